"""Environments whose spaces typedrl's agents do not support, registered on import (``--env
unsupported_envs:typedrl-test/TextObservations-v0`` from the command line, with this folder on the path)."""

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class TextObservations(gym.Env[str, np.int64]):
    """``Text`` observations (no numbers to feed a network), ``Discrete(2)`` actions."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self) -> None:
        self.observation_space = spaces.Text(5)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        return "abc", {}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        return "abc", 0.0, True, False, {}


def _text_observations(**kwargs: Any) -> gym.Env[str, np.int64]:
    return TextObservations(**kwargs)


if "typedrl-test/TextObservations-v0" not in gym.registry:
    gym.register("typedrl-test/TextObservations-v0", entry_point=_text_observations, max_episode_steps=10)

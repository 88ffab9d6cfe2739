"""Environments that fail the way worker processes fail, registered on import (``--env
faulty_envs:typedrl-test/Faulty-v0`` from the command line, with this folder on the path).

``Faulty`` is a small well-behaved task (a point on a line pushed left or right) until the step it was told to fail
at, in the sub-environment it was told to fail in: it then hangs (sleeps), dies (``os._exit``, as a killed process
does) or raises. Which sub-environment fails is given by the seed of its first reset (``fail_seed``: a vector env
seeded ``s`` resets sub-environment ``i`` with ``s + i``), so every sub-environment can be built from the same
keyword arguments. With ``only_if`` (a file path), it fails only while that file exists: a run can then be resumed
with the fault gone.
"""

import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Faulty(gym.Env[np.ndarray, np.int64]):
    """Observation ``Box(-10, 10, (2,))``, actions ``Discrete(2)``, reward ``-|x|``, 50-step episodes."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self, *, fail: str = "none", fail_seed: int = 0, fail_at: int = 1, only_if: str | None = None) -> None:
        self.observation_space = spaces.Box(-10.0, 10.0, (2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.fail, self.fail_seed, self.fail_at, self.only_if = fail, fail_seed, fail_at, only_if
        self.failing = False
        self.steps = 0
        self.x = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.failing = seed == self.fail_seed
        self.x = float(self.np_random.uniform(-1.0, 1.0))
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.steps += 1
        if self.failing and self.steps >= self.fail_at and (self.only_if is None or Path(self.only_if).exists()):
            if self.fail == "hang":
                time.sleep(3600)
            elif self.fail == "die":
                os._exit(3)
            elif self.fail == "raise":
                raise RuntimeError("the simulator lost its state")
        self.x = float(np.clip(self.x + (0.1 if int(action) == 1 else -0.1), -10.0, 10.0))
        return self._observation(), -abs(self.x), False, False, {}

    def _observation(self) -> np.ndarray:
        return np.array([self.x, 0.0], dtype=np.float32)


def _faulty(**kwargs: Any) -> gym.Env[np.ndarray, np.int64]:
    # From the command line, the file that arms the fault comes from the environment variable FAULTY_ONLY_IF.
    kwargs.setdefault("only_if", os.environ.get("FAULTY_ONLY_IF"))
    return Faulty(**kwargs)


# Sub-environment 1 of a vector env seeded 0 fails at its 40th step: in the first update of a 32-step rollout it
# is healthy, in the second it fails.
_VARIANTS = {
    "typedrl-test/Faulty-v0": {},
    "typedrl-test/FaultyHang-v0": {"fail": "hang", "fail_seed": 1, "fail_at": 40},
    "typedrl-test/FaultyDie-v0": {"fail": "die", "fail_seed": 1, "fail_at": 40},
    "typedrl-test/FaultyRaise-v0": {"fail": "raise", "fail_seed": 1, "fail_at": 40},
}
for _name, _kwargs in _VARIANTS.items():
    if _name not in gym.registry:
        gym.register(_name, entry_point=_faulty, max_episode_steps=50, kwargs=_kwargs)

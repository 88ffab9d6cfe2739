"""The algorithms learn, stop cleanly on non-finite numbers, and are reproducible."""

import math
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium
import numpy as np
import pytest
import torch

from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce
from typedrl.checkpoint import load_checkpoint, save_checkpoint
from typedrl.config import ppo_preset, reinforce_preset
from typedrl.errors import TrainingError
from typedrl.runlog import load_trainlog
from typedrl.runner import train

# The default preset's learning test: with this seed, the greedy 10-episode mean reaches 475 within this many
# environment steps (docs/benchmarks.md has the 5-seed figures).
LEARNING_SEED = 0
LEARNING_STEP_BUDGET = 40_960


def test_default_ppo_preset_learns_cartpole(tmp_path: Path) -> None:
    config = ppo_preset(seed=LEARNING_SEED, target_return=475.0, eval={"every": 4})
    result = train(config, out_dir=tmp_path, quiet=True)
    assert result.reached_target, f"greedy return {result.final_evaluation}"
    assert result.env_steps <= LEARNING_STEP_BUDGET


def test_ppo_learns_acrobot(tmp_path: Path) -> None:
    # Nothing is CartPole-only: Acrobot-v1 (reward −1 per step, 500-step limit; a random policy scores −500) to
    # better than −150 in 30,720 steps (seed 0 reaches about −106; Gymnasium's solved threshold is −100).
    config = ppo_preset(env_id="Acrobot-v1", seed=0, updates=60, horizon=64, gamma=0.99, lam=0.95, eval={"every": 20})
    result = train(config, out_dir=tmp_path, quiet=True, log="off")
    assert result.final_evaluation is not None
    assert result.final_evaluation.mean > -150.0, result.final_evaluation


def test_short_reinforce_run_improves() -> None:
    algorithm = Reinforce(reinforce_preset(seed=0, min_steps_per_epoch=2000))
    first = algorithm.epoch()
    for _ in range(7):
        last = algorithm.epoch()
    assert first.steps > 2000
    assert last.steps > 2000
    assert last.mean_return > 1.5 * first.mean_return, (first.mean_return, last.mean_return)


def test_reinforce_epochs_are_whole_episodes() -> None:
    algorithm = Reinforce(reinforce_preset(seed=3, min_steps_per_epoch=1000, num_envs=4))
    stats = algorithm.epoch()
    assert stats.steps > 1000
    assert sum(stats.episode_returns) == stats.steps  # CartPole: reward 1 per step, every episode complete
    assert stats.episodes == len(stats.episode_returns)


def test_same_seed_gives_identical_trainlog_figures(tmp_path: Path) -> None:
    config = ppo_preset(seed=5, updates=6, eval={"every": 3, "episodes": 3})
    first = train(config, out_dir=tmp_path / "a", quiet=True)
    second = train(config, out_dir=tmp_path / "b", quiet=True)
    assert first.log_path is not None
    assert second.log_path is not None
    assert load_trainlog(first.log_path).figures() == load_trainlog(second.log_path).figures()
    other = train(ppo_preset(seed=6, updates=6, eval={"every": 3, "episodes": 3}), out_dir=tmp_path / "c", quiet=True)
    assert other.log_path is not None
    assert load_trainlog(other.log_path).figures() != load_trainlog(first.log_path).figures()


def test_non_finite_weights_stop_the_update_with_a_named_quantity() -> None:
    algorithm = PPO(ppo_preset(seed=0, updates=3))
    algorithm.update()
    with torch.no_grad():
        algorithm.model.weights[0][1].fill_(math.nan)  # the critic's first layer (index 0 is the actor's)
    with pytest.raises(TrainingError, match=r"^update 2: Rollout: values\[\d+, \d+\] is nan; expected a finite float$"):
        algorithm.update()


def test_a_failed_run_keeps_the_last_good_log_and_checkpoint(tmp_path: Path) -> None:
    config = ppo_preset(seed=0, updates=6, eval={"every": 2, "episodes": 2})
    train(config, out_dir=tmp_path, quiet=True)
    # Corrupt the saved policy (as a bad disk or a bad update would) and resume: the run must stop, not go on.
    checkpoint_path = tmp_path / "checkpoint.pt"
    checkpoint = load_checkpoint(checkpoint_path)
    algorithm = PPO(config)
    algorithm.model.load_state_dict(dict(checkpoint.modules["model"]))
    with torch.no_grad():
        algorithm.model.weights[0][0].fill_(math.nan)  # the actor's first layer
    save_checkpoint(
        checkpoint_path,
        modules={"model": algorithm.model},
        optimizers={"optimizer": algorithm.optimizer},
        config=dict(checkpoint.config),
        progress={"done": 4, "env_steps": 4 * 256, "train_seconds": 1.0, "evaluated_at": 4},
        extra={
            **dict(checkpoint.extra),
            "algorithm": {**dict(checkpoint.extra["algorithm"]), "updates_done": 4, "env_steps": 4 * 256},
            "finished": False,
        },
    )
    before = checkpoint_path.read_bytes()
    with pytest.raises(
        TrainingError, match=r"^update 5: sample_categorical: logits\[0\] has a NaN; expected finite logits"
    ):
        train(config, out_dir=tmp_path, resume=True, quiet=True)
    assert checkpoint_path.read_bytes() == before
    log = load_trainlog(tmp_path / "trainlog.json")
    assert [record.update for record in log.updates] == [1, 2, 3, 4]


class _StartsAtOne(gymnasium.Env[np.ndarray, np.int64]):
    """CartPole whose actions are 1 and 2 (``Discrete(2, start=1)``); any other action is a bug in the caller."""

    def __init__(self) -> None:
        self.inner = gymnasium.make("CartPole-v1")
        self.observation_space = self.inner.observation_space
        self.action_space = gymnasium.spaces.Discrete(2, start=1)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return self.inner.reset(seed=seed, options=options)

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if action not in (1, 2):
            raise ValueError(f"action {action} is outside Discrete(2, start=1)")
        return self.inner.step(int(action) - 1)


def _make_starts_at_one(**kwargs: Any) -> gymnasium.Env[Any, Any]:
    return _StartsAtOne(**kwargs)


gymnasium.register("TypedRLTest/StartsAtOne-v0", entry_point=_make_starts_at_one, max_episode_steps=500)


@pytest.mark.parametrize("algo", ["ppo", "reinforce"])
def test_discrete_actions_that_start_at_one(tmp_path: Path, algo: str) -> None:
    """Records hold indices 0..n-1; the environment receives start + index, in training and evaluation alike."""
    evaluation = {"every": 2, "episodes": 2, "max_steps": 50}
    config = (
        ppo_preset(env_id="TypedRLTest/StartsAtOne-v0", updates=2, eval=evaluation)
        if algo == "ppo"
        else reinforce_preset(env_id="TypedRLTest/StartsAtOne-v0", epochs=2, min_steps_per_epoch=100, eval=evaluation)
    )
    result = train(config, out_dir=tmp_path, quiet=True)
    assert result.updates == 2
    assert result.final_evaluation is not None

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
from typedrl.losses import ppo_loss
from typedrl.runlog import load_trainlog
from typedrl.runner import train


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_ppo_preset_ends_stable_at_500(tmp_path: Path, seed: int) -> None:
    """The learning regression check: the default preset, evaluated as the benchmark does (every 2048 steps, 10
    greedy episodes), must end stable at 500: from some evaluation on, every one to the end of the budget is 500.
    A change that breaks learning fails here instead of drifting a docs table (bench/bench_ppo.py has 10 seeds)."""
    config = ppo_preset(seed=seed, eval={"every": 8})  # 8 updates of 16 envs x 16 steps: every 2048 steps
    train(config, out_dir=tmp_path, quiet=True)
    means = [record.mean for record in load_trainlog(tmp_path / "trainlog.json").evaluations]
    assert len(means) == 30
    assert means[-1] == 500.0, means
    tail = len(means) - next(index for index, mean in enumerate(reversed(means)) if mean < 500.0)
    assert tail <= 15, f"stable only from evaluation {tail}: {means}"  # stable by 30,720 steps at the latest


def test_ppo_learns_acrobot(tmp_path: Path) -> None:
    # Nothing is CartPole-only: Acrobot-v1 (reward −1 per step, 500-step limit; a random policy scores −500) to
    # better than −150 in 30,720 steps (8 envs, lr 2e-3; seed 0 reaches about −106). The acrobot preset itself,
    # 16 envs for 102,400 steps, ends better than Gymnasium's −100 threshold (bench/bench_ppo.py, seeds 0-4).
    config = ppo_preset("acrobot", seed=0, num_envs=8, updates=60, learning_rate=2e-3, eval={"every": 20})
    result = train(config, out_dir=tmp_path, quiet=True, log="off")
    assert result.final_evaluation is not None
    assert result.final_evaluation.mean > -150.0, result.final_evaluation


def test_short_reinforce_run_improves() -> None:
    algorithm = Reinforce(reinforce_preset(seed=0, min_steps_per_update=2000))
    first = algorithm.update()
    for _ in range(7):
        before = algorithm.env_steps
        last = algorithm.update()
    assert first.env_steps > 2000
    assert last.env_steps - before > 2000
    first_mean, last_mean = first.episode_return_mean, last.episode_return_mean
    assert first_mean is not None
    assert last_mean is not None
    assert last_mean > 1.5 * first_mean, (first_mean, last_mean)


def test_reinforce_updates_are_whole_episodes() -> None:
    algorithm = Reinforce(reinforce_preset(seed=3, min_steps_per_update=1000, num_envs=4))
    stats = algorithm.update()
    assert stats.env_steps > 1000
    assert sum(stats.episode_returns) == stats.env_steps  # CartPole: reward 1 per step, every episode complete
    assert sum(stats.episode_lengths) == stats.env_steps
    assert stats.line is not None
    assert stats.line.startswith(f"epoch: 1   episodes: {len(stats.episode_returns):<5} avg reward per episode: ")


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
        else reinforce_preset(env_id="TypedRLTest/StartsAtOne-v0", updates=2, min_steps_per_update=100, eval=evaluation)
    )
    result = train(config, out_dir=tmp_path, quiet=True)
    assert result.updates == 2
    assert result.final_evaluation is not None


def test_ppo_options_change_what_they_say() -> None:
    """Advantage normalization, value clipping, the KL early stop and the minibatch size, one update each."""
    base: dict[str, Any] = {"seed": 0, "updates": 2, "num_envs": 2, "horizon": 16, "epochs": 4, "target_kl": None}
    stats = {}
    options: dict[str, dict[str, Any]] = {
        "batch": {},
        "minibatch": {"normalize_advantage": "minibatch", "minibatch_size": 8},
        "off": {"normalize_advantage": "off"},
        "clip_vf": {"clip_range_vf": 1e-6},
        "target_kl": {"target_kl": 1e-9, "learning_rate": 0.05},
        "default_kl": {"target_kl": 0.05, "learning_rate": 0.05},
    }
    for name, overrides in options.items():
        algorithm = PPO(ppo_preset(**{**base, **overrides}))
        algorithm.update()
        stats[name] = algorithm.update()
    assert stats["batch"].epochs == 4
    assert stats["minibatch"].epochs == 4
    # A tiny value clip keeps V at its old value on the clipped side: the value loss is that of the old values.
    assert stats["clip_vf"].losses["value"] != stats["batch"].losses["value"]
    # The first minibatch of the first pass has ratio 1 (KL 0); after one step at lr 0.05 the KL passes 1.5e-9.
    assert stats["target_kl"].epochs == 1
    assert stats["default_kl"].epochs is not None
    assert 1 <= stats["default_kl"].epochs < 4  # the default preset's 0.05 stops these large steps early too
    assert stats["off"].losses["policy"] != stats["batch"].losses["policy"]
    for result in stats.values():
        assert result.explained_variance is None or math.isfinite(result.explained_variance)
        assert result.clip_range is not None


def test_value_clipping_bounds_the_value_step() -> None:
    """With clip_range_vf, the value loss is max(unclipped, clipped): never below the unclipped squared error."""
    algorithm = PPO(ppo_preset(seed=1, updates=1, num_envs=2, horizon=8, epochs=1, clip_range_vf=0.1))
    sample = algorithm._sample(1)
    logits, values = algorithm.model(sample.observations)
    arguments = (logits, values + 1.0, sample.actions, sample.log_probs, sample.advantages, sample.returns)
    clipped = ppo_loss(*arguments, clip=0.2, old_values=sample.values, clip_range_vf=0.1)  # far outside ±0.1
    unclipped = ((values + 1.0) - sample.returns).square().mean()
    assert float(clipped.value_loss.detach()) >= float(unclipped.detach())

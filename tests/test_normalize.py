"""Observation normalization and reward scaling: the statistics, where they apply, and that they are saved."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.wrappers.utils import RunningMeanStd

from typedrl.algos import algorithm_spec, spaces_of
from typedrl.algos.ppo import PPO
from typedrl.checkpoint import load_checkpoint, restore
from typedrl.config import ppo_preset
from typedrl.normalize import ObservationNormalizer, RewardScaler
from typedrl.policies import ActorCritic
from typedrl.runner import train


def test_the_running_statistics_equal_gymnasiums() -> None:
    generator = np.random.default_rng(0)
    normalizer = ObservationNormalizer(3)
    reference = RunningMeanStd(shape=(3,))  # type: ignore[no-untyped-call]
    for rows in (5, 1, 17, 64):
        batch = generator.normal(loc=[1.0, -2.0, 30.0], scale=[0.5, 3.0, 10.0], size=(rows, 3))
        normalizer.update(torch.from_numpy(batch).float())
        reference.update(batch.astype(np.float32).astype(np.float64))  # type: ignore[no-untyped-call]
    np.testing.assert_allclose(normalizer.mean.numpy(), reference.mean, rtol=1e-12)
    np.testing.assert_allclose(normalizer.var.numpy(), reference.var, rtol=1e-10)
    assert float(normalizer.count) == pytest.approx(reference.count)


def test_the_forward_pass_normalizes_clips_and_never_updates() -> None:
    normalizer = ObservationNormalizer(2)
    normalizer.update(torch.tensor([[0.0, 10.0], [2.0, 10.0]]))
    before = {name: value.clone() for name, value in normalizer.state_dict().items()}
    out = normalizer(torch.tensor([[1.0, 10.0], [3.0, 1e6]]))
    # mean (1, 10) and variance (1, 0), up to the 1e-4 prior; the second column is clipped at 10.
    torch.testing.assert_close(out[:, 0], torch.tensor([0.0, 2.0]), rtol=1e-3, atol=1e-3)
    assert float(out[1, 1]) == 10.0
    assert abs(float(out[0, 1])) < 0.05
    for name, value in normalizer.state_dict().items():
        assert torch.equal(value, before[name])
    assert set(before) == {"mean", "var", "count"}


def test_reward_scaling_follows_the_discounted_return_of_each_environment() -> None:
    """A hand-run: γ = 0.5, two environments, the first one's episode ends at t = 1."""
    scaler = RewardScaler(2, gamma=0.5)
    rewards = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    done = torch.tensor([[False, False], [True, False], [False, False]])
    scaled = scaler(rewards, done)
    reference = RunningMeanStd(shape=())  # type: ignore[no-untyped-call]
    expected = []
    for returns in ([1.0, 2.0], [1.5, 3.0], [1.0, 3.5]):  # R ← γR + r, env 0 restarting after t = 1
        reference.update(np.asarray(returns))  # type: ignore[no-untyped-call]
        expected.append([1.0 / math.sqrt(reference.var + 1e-8), 2.0 / math.sqrt(reference.var + 1e-8)])
    torch.testing.assert_close(scaled, torch.tensor(expected, dtype=torch.float32))
    np.testing.assert_allclose(scaler.returns, [1.0, 3.5])
    restored = RewardScaler(2, gamma=0.5)
    restored.load_state(scaler.state())
    torch.testing.assert_close(restored(rewards, done), scaler(rewards, done))


def test_ppo_learns_from_scaled_rewards_and_logs_raw_returns() -> None:
    config = ppo_preset("pendulum", seed=0, updates=2, horizon=256, normalize_rewards=True, normalize_observations=True)
    algorithm = PPO(config)
    stats = [algorithm.update() for _ in range(2)]
    algorithm.close()
    # Pendulum's 200-step episodes return about -900 to -1500: the log keeps them raw.
    returns = [value for record in stats for value in record.episode_returns]
    assert returns
    assert all(-2000.0 < value < -100.0 for value in returns)
    normalizer = algorithm.model.normalizer
    assert normalizer is not None
    assert float(normalizer.count) == pytest.approx(2 * 256 * 4 + 1e-4)
    assert algorithm.reward_scaler is not None
    assert algorithm.reward_scaler.statistics.count > 500


def test_the_statistics_are_saved_and_evaluation_applies_them(tmp_path: Path) -> None:
    config = ppo_preset(
        "pendulum",
        seed=0,
        updates=2,
        horizon=128,
        normalize_rewards=True,
        normalize_observations=True,
        eval={"every": 1, "episodes": 2},
    )
    train(config, out_dir=tmp_path, quiet=True)
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert float(checkpoint.modules["model"]["normalizer.count"]) == pytest.approx(2 * 128 * 4 + 1e-4)
    saved_scaler = checkpoint.extra["algorithm"]["reward_scaler"]
    assert float(saved_scaler["count"]) > 2 * 128
    modules, actor = algorithm_spec("ppo").evaluation_actor(config, spaces_of("Pendulum-v1"))
    restore(checkpoint, modules=modules, rng=False)
    model = modules["model"]
    assert isinstance(model, ActorCritic)
    assert model.normalizer is not None
    assert torch.equal(model.normalizer.mean, checkpoint.modules["model"]["normalizer.mean"])
    observations = torch.randn(3, 3)
    torch.testing.assert_close(actor(observations), model(observations)[0])
    resumed = PPO(config)
    restore(checkpoint, modules=resumed.modules(), optimizers=resumed.optimizers(), rng=False)
    resumed.load_state(dict(checkpoint.extra["algorithm"]))
    assert resumed.reward_scaler is not None
    assert resumed.reward_scaler.statistics.count == pytest.approx(float(saved_scaler["count"]))
    resumed.close()


@pytest.mark.parametrize("n_envs", [1, 3])
def test_reward_scaling_of_whole_rollouts_equals_gymnasiums_step_by_step_statistics(n_envs: int) -> None:
    """All of a rollout's steps at once (prefix sums) against RunningMeanStd fed one step at a time, across calls of
    several lengths with episode ends inside them."""
    generator = np.random.default_rng(1)
    scaler = RewardScaler(n_envs, gamma=0.98)
    reference = RunningMeanStd(shape=())  # type: ignore[no-untyped-call]
    running = np.zeros(n_envs)
    for steps in (512, 1, 7, 300):
        rewards = generator.normal(3.0, 2.0, size=(steps, n_envs)).astype(np.float32)
        done = generator.random((steps, n_envs)) < 0.02
        scaled = scaler(torch.from_numpy(rewards), torch.from_numpy(done)).numpy()
        expected = np.empty((steps, n_envs))
        for t in range(steps):
            running = running * 0.98 + rewards[t].astype(np.float64)
            reference.update(running)  # type: ignore[no-untyped-call]
            expected[t] = rewards[t] / math.sqrt(reference.var + 1e-8)
            running[done[t]] = 0.0
        np.testing.assert_allclose(scaled, np.clip(expected, -10.0, 10.0), rtol=1e-6)
        np.testing.assert_allclose(scaler.returns, running, rtol=1e-12)
        assert float(scaler.statistics.var) == pytest.approx(float(reference.var), rel=1e-12)
        assert float(scaler.statistics.mean) == pytest.approx(float(reference.mean), rel=1e-12)
        assert float(scaler.statistics.count) == pytest.approx(float(reference.count), rel=1e-15)


def test_the_normalizer_follows_its_buffers_after_updates_loads_and_dtype_changes() -> None:
    """The forward pass caches −μ/s and 1/s: every change of the buffers must reach it."""
    normalizer = ObservationNormalizer(3)
    observations = torch.randn(5, 3) * 4.0 + 2.0

    def expected(x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(normalizer.var + 1e-8)
        return ((x.double() - normalizer.mean) * scale).clamp(-10.0, 10.0).to(x.dtype)

    before = normalizer(observations)
    normalizer.update(observations)
    after = normalizer(observations)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected(observations))
    normalizer.load_state_dict({key: value * 2.0 for key, value in normalizer.state_dict().items()})
    torch.testing.assert_close(normalizer(observations), expected(observations))
    with torch.inference_mode():
        normalizer.update(observations + 1.0)
        inside = normalizer(observations)
    torch.testing.assert_close(inside, expected(observations))
    torch.testing.assert_close(normalizer(observations), expected(observations))
    normalizer.double()
    torch.testing.assert_close(normalizer(observations.double()), expected(observations.double()))

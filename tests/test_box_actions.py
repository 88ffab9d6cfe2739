"""Box (continuous) actions: the diagonal Gaussian policy, records with float actions [T, N, *act], the collector
and evaluation on Pendulum-v1, PPO and REINFORCE training through the library and the command line."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from typedrl._spaces import read_spaces
from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce
from typedrl.collect import RolloutCollector
from typedrl.config import PPO_PRESETS, ppo_preset, preset_for_env, reinforce_preset
from typedrl.envs import make_env
from typedrl.errors import ConfigError, RolloutError
from typedrl.evaluation import evaluate
from typedrl.losses import ppo_loss, ppo_objective
from typedrl.policies import ActorCritic, SampledPolicy, gaussian_entropy, gaussian_log_prob
from typedrl.records import Rollout, Step

PENDULUM_BOX = spaces.Box(-2.0, 2.0, (1,), np.float32)


def test_read_spaces_takes_floating_box_actions_and_refuses_the_rest() -> None:
    observations = spaces.Box(-1.0, 1.0, (3,), np.float32)
    layout = read_spaces("E", observations, spaces.Box(-1.0, 1.0, (2, 3), np.float32))
    assert (layout.action_kind, layout.action_shape, layout.n_actions) == ("box", (2, 3), 6)
    for space in (spaces.Box(0, 3, (2,), np.int64), spaces.Box(0.0, 1.0, (0,))):
        supported = r"typedrl's agents support Box \(numeric\) or Discrete observations, .*and Discrete, MultiDiscrete"
        with pytest.raises(ConfigError, match=supported):
            read_spaces("E", observations, space)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.integers(1, 4))
def test_gaussian_log_prob_and_entropy_equal_torch_distributions(seed: int, batch: int, size: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, size, generator=generator, dtype=torch.float64) * 3
    log_std = torch.randn(size, generator=generator, dtype=torch.float64)
    actions = torch.randn(batch, size, generator=generator, dtype=torch.float64) * 4
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(gaussian_log_prob(mean, log_std, actions), normal.log_prob(actions).sum(-1))  # type: ignore[no-untyped-call]
    torch.testing.assert_close(gaussian_entropy(log_std, batch), normal.entropy().sum(-1))  # type: ignore[no-untyped-call]


def test_the_actor_samples_mean_plus_std_times_noise_and_scores_that_action() -> None:
    torch.manual_seed(0)
    model = ActorCritic(3, 2, hidden=8, action_kind="box", action_shape=(2,), log_std_init=-0.5)
    observations = torch.randn(5, 3)
    noise = model.noise(5, torch.Generator().manual_seed(1), observations)
    assert noise.shape == (5, 2)
    step = model.act(observations, noise)
    mean, values = model(observations)
    torch.testing.assert_close(step.actions, mean + math.exp(-0.5) * noise)
    torch.testing.assert_close(step.values, values)
    normal = torch.distributions.Normal(mean, torch.full_like(mean, math.exp(-0.5)))
    torch.testing.assert_close(step.log_probs, normal.log_prob(step.actions).sum(-1))  # type: ignore[no-untyped-call]
    torch.testing.assert_close(model.greedy(observations), mean)
    assert {name for name, _ in model.named_parameters()} >= {"log_std"}


def test_an_action_shape_that_does_not_hold_the_outputs_is_refused() -> None:
    with pytest.raises(ValueError, match=r"action_shape \(2, 2\) does not hold 3 elements"):
        ActorCritic(3, 3, action_kind="box", action_shape=(2, 2))


def test_ppo_objective_on_categorical_log_probs_equals_the_fused_loss() -> None:
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(16, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    values = torch.randn(16, generator=generator, dtype=torch.float64, requires_grad=True)
    actions = torch.randint(0, 3, (16,), generator=generator)
    old, advantages, returns = (torch.randn(16, generator=generator, dtype=torch.float64) for _ in range(3))
    fused = ppo_loss(logits, values, actions, old - 1.0, advantages, returns, clip=0.2, entropy_coef=0.01)
    (fused_logits, fused_values) = torch.autograd.grad(fused.loss, (logits, values))
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)
    entropies = -(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1)
    generic = ppo_objective(log_probs, entropies, values, old - 1.0, advantages, returns, clip=0.2, entropy_coef=0.01)
    (generic_logits, generic_values) = torch.autograd.grad(generic.loss, (logits, values))
    for ours, theirs in zip(fused, generic, strict=True):
        torch.testing.assert_close(ours.detach(), theirs.detach())
    torch.testing.assert_close(fused_logits, generic_logits)
    torch.testing.assert_close(fused_values, generic_values)


def test_records_hold_float_actions_with_their_own_shape() -> None:
    horizon, n_envs = 3, 2
    base = {
        "observations": torch.zeros(horizon, n_envs, 4),
        "log_probs": torch.zeros(horizon, n_envs),
        "rewards": torch.ones(horizon, n_envs),
        "values": torch.zeros(horizon, n_envs),
        "next_values": torch.zeros(horizon, n_envs),
        "terminated": torch.zeros(horizon, n_envs, dtype=torch.bool),
        "truncated": torch.zeros(horizon, n_envs, dtype=torch.bool),
        "horizon": horizon,
    }
    actions = torch.linspace(-3, 3, horizon * n_envs * 2).reshape(horizon, n_envs, 2)
    rollout = Rollout(actions=actions, **base)  # type: ignore[arg-type]
    assert rollout.action_shape == (2,)
    step = rollout.step(1, 0)
    assert isinstance(step.action, torch.Tensor)
    torch.testing.assert_close(step.action, actions[1, 0])
    sample = rollout.to_actor_critic_sample(gamma=0.9, lam=0.9)
    assert sample.actions.shape == (horizon * n_envs, 2)
    assert next(iter(sample.minibatches(2, generator=torch.Generator()))).actions.shape == (3, 2)
    nan_actions = actions.clone()
    nan_actions[2, 1, 0] = math.nan
    with pytest.raises(RolloutError, match=r"^Rollout: actions\[2, 1, 0\] is nan; expected a finite float$"):
        Rollout(actions=nan_actions, **base)  # type: ignore[arg-type]
    with pytest.raises(
        RolloutError, match=r"actions has shape \(3, 2, 2, 1\) and dtype torch.int64; expected \[T, N\]"
    ):
        Rollout(actions=torch.zeros(horizon, n_envs, 2, 1, dtype=torch.int64), **base)  # type: ignore[arg-type]
    with pytest.raises(RolloutError, match=r"^Rollout: actions has shape \(3,\); expected \[T, N, \*act\]$"):
        Rollout(actions=torch.zeros(horizon), **base)  # type: ignore[arg-type]


def test_steps_with_tensor_actions_stack_into_a_rollout() -> None:
    def step(action: int | torch.Tensor) -> Step:
        return Step(
            observation=torch.zeros(2),
            action=action,
            log_prob=0.0,
            reward=1.0,
            value=0.0,
            next_value=0.0,
            terminated=False,
            truncated=False,
        )

    rollout = Rollout.from_steps([step(torch.tensor([0.5])), step(torch.tensor([-1.5]))], horizon=2)
    assert rollout.actions.shape == (2, 1, 1)
    assert step(torch.tensor([0.5])) == step(torch.tensor([0.5]))
    assert step(torch.tensor([0.5])) != step(torch.tensor([0.25]))
    assert step(1) != step(torch.tensor([1.0]))
    with pytest.raises(RolloutError, match=r"steps\[1\].action is an int; expected torch.float32 \(1,\)"):
        Rollout.from_steps([step(torch.tensor([0.5])), step(1)], horizon=2)
    with pytest.raises(RolloutError, match=r"^Step: action\[0\] is inf; expected finite values$"):
        step(torch.tensor([math.inf]))


def test_the_collector_records_unclipped_actions_and_the_env_receives_clipped_ones() -> None:
    """A wide Gaussian (σ = e² ≈ 7.4) samples far outside [-2, 2]: the contract, which checks every action the
    environment receives, sees only clipped ones; the rollout keeps what was sampled."""
    from typedrl._spaces import agent_env

    env = make_env("Pendulum-v1", num_envs=3, seed=0)
    layout = read_spaces("Pendulum-v1", env.single_observation_space, env.single_action_space)
    torch.manual_seed(0)
    model = ActorCritic(3, 1, hidden=8, action_kind="box", action_shape=(1,), log_std_init=2.0)
    collector = RolloutCollector(
        agent_env(env, layout), SampledPolicy(model, torch.Generator().manual_seed(0)), horizon=50, seed=0
    )
    with torch.no_grad():
        rollout = collector.collect()
    env.close()
    assert rollout.actions.shape == (50, 3, 1)
    assert rollout.actions.dtype == torch.float32
    assert float(rollout.actions.abs().max()) > 2.0  # sampled outside the bounds, stored as sampled


def test_ppo_learns_pendulum_a_little(tmp_path: Path) -> None:
    """The CI learning check for Box actions: the first 13 of the pendulum preset's 25 updates (53,248 steps, about
    12 s): the greedy mean over 10 episodes rises from below -900 to better than -400 (seeds 0 and 1 reach -204 and
    -154 there, -255 and -206 one update earlier, and about -140 at the end of the budget)."""
    algorithm = PPO(ppo_preset("pendulum", seed=0))  # the preset's 25-update schedule, of which 13 run here
    before = evaluate(algorithm.actor, "Pendulum-v1", episodes=10, base_seed=10_000, max_steps=200).mean
    for _ in range(13):
        algorithm.update()
    after = evaluate(algorithm.actor, "Pendulum-v1", episodes=10, base_seed=10_000, max_steps=200).mean
    algorithm.close()
    assert before < -900.0
    assert after > -400.0, (before, after)


def test_reinforce_trains_a_gaussian_policy_on_box_actions() -> None:
    algorithm = Reinforce(reinforce_preset(env_id="Pendulum-v1", num_envs=4, min_steps_per_update=400, updates=2))
    first = algorithm.update()
    second = algorithm.update()
    assert second.env_steps > first.env_steps >= 400
    assert math.isfinite(first.losses["policy_gradient"])
    # The Gaussian's entropy with log σ ≈ 0: ½ + ½ log 2π ≈ 1.419 nats per element (one here).
    assert first.entropy == pytest.approx(0.5 + 0.5 * math.log(2 * math.pi), abs=0.05)
    result = evaluate(algorithm.actor, "Pendulum-v1", episodes=2, base_seed=0, max_steps=200)
    algorithm.close()
    assert result.lengths == (200, 200)


def test_an_environment_picks_its_preset() -> None:
    assert preset_for_env(PPO_PRESETS, "Pendulum-v1") == "pendulum"
    assert preset_for_env(PPO_PRESETS, "Acrobot-v1") == "acrobot"
    assert preset_for_env(PPO_PRESETS, "CartPole-v1") == "default"
    assert preset_for_env(PPO_PRESETS, None) == "default"


def test_the_command_line_trains_and_evaluates_pendulum(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train = subprocess.run(
        [
            sys.executable,
            "-m",
            "typedrl",
            "ppo",
            "--env",
            "Pendulum-v1",
            "--updates",
            "2",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert train.returncode == 0, train.stderr
    evaluation = subprocess.run(
        [sys.executable, "-m", "typedrl", "eval", str(out / "checkpoint.pt"), "--episodes", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert evaluation.returncode == 0, evaluation.stderr
    assert "2 episodes" in evaluation.stdout


def test_the_extra_is_read_from_the_environments_entry_point() -> None:
    from typedrl.algos.base import _extra_for

    assert _extra_for("HalfCheetah-v5") == "mujoco"
    assert _extra_for("Hopper-v5") == "mujoco"
    assert _extra_for("LunarLander-v3") == "box2d"
    assert _extra_for("CartPole-v1") is None
    assert _extra_for("NoSuchEnv-v0") is None

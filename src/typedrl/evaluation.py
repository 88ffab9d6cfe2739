"""Greedy evaluation: how well the policy does when it always takes its most likely action.

Episode ``k`` (``0 ≤ k < episodes``) starts from ``reset(seed=base_seed + k)``, exactly as a single
``gymnasium.make(env_id)`` reset with that seed would, and its score is the undiscounted return
``G = Σₜ rₜ``. All episodes run side by side in one synchronous vector environment, with one batched forward
pass of the actor per vector step; an episode that is still running after ``max_steps`` steps is cut there and
counts with the return it reached. Same actor weights and seeds give the same result.

With ``video_dir``, each episode is also recorded as an mp4 file by Gymnasium's ``RecordVideo`` (the environment
renders ``rgb_array`` frames; writing needs ``moviepy``, and classic control needs ``pygame`` to draw:
``pip install "typedrl[video]"``).
"""

import importlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from typedrl import _validate
from typedrl._spaces import Spaces, agent_env, read_spaces
from typedrl.envs import CheckedVectorEnv
from typedrl.errors import EvaluationError
from typedrl.masks import ActionMaskReader

__all__ = ["EvalResult", "evaluate", "evaluate_tensor_envs"]


@dataclass(frozen=True)
class EvalResult:
    """The outcome of one greedy evaluation, episodes in seed order (episode ``k`` used ``base_seed + k``).

    ``mean``, ``std`` (population standard deviation), ``min`` and ``max`` are computed from ``returns``.
    """

    returns: tuple[float, ...]
    """Undiscounted return of each episode."""
    lengths: tuple[int, ...]
    """Steps each episode lasted."""
    capped: tuple[bool, ...]
    """Whether the episode was cut by ``max_steps`` rather than ending by itself (termination or time limit)."""
    mean: float = field(init=False)
    """Mean return."""
    std: float = field(init=False)
    """Population standard deviation of the returns (``0.0`` for one episode)."""
    min: float = field(init=False)
    """Lowest return."""
    max: float = field(init=False)
    """Highest return."""

    def __post_init__(self) -> None:
        count = len(self.returns)
        if count == 0:
            raise EvaluationError("EvalResult: returns is empty; expected at least one episode")
        if len(self.lengths) != count or len(self.capped) != count:
            raise EvaluationError(
                f"EvalResult: {count} returns, {len(self.lengths)} lengths and {len(self.capped)} capped flags; "
                "expected one of each per episode"
            )
        mean, std = _validate.population_stats(self.returns)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "min", min(self.returns))
        object.__setattr__(self, "max", max(self.returns))

    def __str__(self) -> str:
        return (
            f"{len(self.returns)} episodes: mean {self.mean:.2f} ± {self.std:.2f} "
            f"(min {self.min:.2f}, max {self.max:.2f})"
        )


def _close(envs: gym.vector.VectorEnv, env_id: str) -> None:
    """Close the evaluation's environments; a close that raises is a warning: the returns are measured by then."""
    try:
        envs.close()
    except Exception as error:
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        warnings.warn(f"evaluate: closing {env_id} raised {detail}", RuntimeWarning, stacklevel=3)


def _recorded(name: str, env_kwargs: dict[str, Any], video_dir: Path, prefix: str) -> gym.Env[Any, Any]:
    """One sub-environment rendering ``rgb_array`` frames, its first episode recorded to ``video_dir``."""
    env = gym.make(name, render_mode="rgb_array", **{"disable_env_checker": True, **env_kwargs})
    try:
        with warnings.catch_warnings():
            # Every episode's recorder shares the folder, so all but the first would warn that it exists; each
            # writes a file of its own name (one of the same name from an earlier call is replaced, as documented).
            warnings.filterwarnings("ignore", message=".*Overwriting existing videos", category=UserWarning)
            return gym.wrappers.RecordVideo(
                env,
                str(video_dir),
                episode_trigger=lambda episode: episode == 0,
                name_prefix=prefix,
                disable_logger=True,
            )
    except gym.error.DependencyNotInstalled as error:
        env.close()
        raise EvaluationError(
            f'evaluate: recording video needs moviepy: pip install "typedrl[video]" ({error})'
        ) from None


def _make_envs(
    env_id: str, episodes: int, env_kwargs: dict[str, Any], *, video_dir: Path | None = None, base_seed: int = 0
) -> tuple[gym.vector.VectorEnv, Spaces]:
    try:
        # NEXT_STEP autoreset: a sub-environment that has ended keeps stepping (its later results are ignored),
        # so the whole batch steps together with no per-environment reset calls.
        module, separator, name = env_id.partition(":")  # "module:Env-v0": the module registers the env
        if separator:
            importlib.import_module(module)
        registered = name if separator else env_id
        envs: gym.vector.VectorEnv
        if video_dir is not None:
            label = registered.replace("/", "-")

            def recorded(k: int) -> Callable[[], gym.Env[Any, Any]]:
                return lambda: _recorded(registered, env_kwargs, video_dir, f"{label}-seed-{base_seed + k}")

            envs = gym.vector.SyncVectorEnv(
                [recorded(k) for k in range(episodes)], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
            )
        else:
            envs = gym.make_vec(
                registered,
                num_envs=episodes,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP},
                # The contract checks every result; Gymnasium's passive checker would assert first.
                **{"disable_env_checker": True, **env_kwargs},
            )
    except EvaluationError:
        raise
    except gym.error.Error as err:
        raise EvaluationError(f"evaluate: cannot make {env_id!r}: {err}") from err
    except Exception as err:  # the env's own module or constructor failed
        detail = " ".join(f"{type(err).__name__}: {err}".split())
        raise EvaluationError(f"evaluate: cannot make {env_id!r}: {detail}") from err
    try:
        # The spaces first, so an unsupported one is refused as the agents refuse it; then every reset, step
        # and action goes through the environment contract, as in training.
        layout = read_spaces(env_id, envs.single_observation_space, envs.single_action_space, error=EvaluationError)
        return agent_env(CheckedVectorEnv(envs), layout), layout
    except BaseException:
        envs.close()
        raise


def _greedy_actions(
    actor: nn.Module,
    observations: np.ndarray,
    active: np.ndarray,
    *,
    step: int,
    layout: Spaces,
    device: torch.device,
    masks: np.ndarray | None = None,
) -> np.ndarray:
    try:
        outputs = actor(torch.as_tensor(observations, dtype=torch.float32, device=device))
    except Exception as error:  # e.g. an actor made for observations of another size: say what it was given
        detail = " ".join(str(error).split())
        raise EvaluationError(
            f"evaluate: step {step}: the actor raised {type(error).__name__} on observations of shape"
            f" {tuple(observations.shape)}: {detail}"
        ) from error
    expected = (observations.shape[0], layout.n_actions)
    what = "action means" if layout.action_kind == "box" else "logits"
    if not isinstance(outputs, torch.Tensor) or tuple(outputs.shape) != expected:
        got = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise EvaluationError(f"evaluate: step {step}: the actor returned {got}; expected {what} of shape {expected}")
    outputs_np = outputs.detach().cpu().numpy()
    bad = active & ~np.isfinite(outputs_np).all(axis=1)
    if bad.any():
        (episode,) = _validate.first_true(bad)
        raise EvaluationError(f"evaluate: step {step}, episode {episode}: the actor's {what} are not finite")
    if masks is not None:  # the best allowed action (every row allows one: the reader checked)
        outputs_np = np.where(masks, outputs_np, -np.inf)
    if layout.action_kind == "multi_discrete":  # argmax of each component's logits
        splits = np.cumsum(layout.action_nvec)[:-1]
        return np.stack([part.argmax(axis=1) for part in np.split(outputs_np, splits, axis=1)], axis=1)
    if layout.action_kind == "box":  # the mean, sent clipped to the bounds (agent_env)
        means: np.ndarray = outputs_np.astype(np.float32).reshape(-1, *layout.action_shape)
        return means
    # argmax picks the first of tied maxima, so ties are broken the same way on every run.
    actions: np.ndarray = outputs_np.argmax(axis=1)
    return actions


def evaluate(
    actor: nn.Module,
    env_id: str,
    *,
    episodes: int = 10,
    base_seed: int = 0,
    max_steps: int = 1000,
    device: str | torch.device = "cpu",
    env_kwargs: dict[str, Any] | None = None,
    video_dir: str | os.PathLike[str] | None = None,
) -> EvalResult:
    """Run ``episodes`` greedy episodes of ``env_id`` and return their undiscounted returns.

    ``actor`` maps float32 observations ``[B, *obs]`` on ``device`` to ``[B, A]``: for a ``Discrete(A)`` action
    space the logits, and the action is their ``argmax`` (the first on ties); for a ``Box`` action space with ``A``
    elements the Gaussian's mean, which is the action, sent clipped to the space's bounds. An environment that
    masks actions (:mod:`typedrl.masks`) gets the best allowed action. It runs under
    :func:`torch.no_grad` in eval mode, and each submodule's training flag is restored afterwards. ``env_kwargs``
    go to the environment's constructor. The environment needs an observation space the agents support (a
    ``Box``, a ``Discrete``, or a ``Dict`` or ``Tuple`` of those), which the actor sees flattened as in training.

    ``video_dir``: record each episode as ``{env_id}-seed-{base_seed + k}-episode-0.mp4`` in this directory
    (created if missing; a file of the same name is replaced; Gymnasium's ``RecordVideo``, the environment
    rendering ``rgb_array`` frames). The returns are the same as without it.

    Raises:
        EvaluationError: a bad argument, an unsupported environment, an actor that raises (e.g. made for
            observations of another size), a non-finite logit, an actor output of the wrong shape, a bad action
            mask, or ``video_dir`` without ``moviepy`` installed.
        ContractViolation: the environment broke its contract (e.g. a NaN observation); every reset, step and
            action of an evaluation is checked, as in training.
    """
    if not isinstance(actor, nn.Module):
        raise EvaluationError(f"evaluate: actor is a {type(actor).__name__}; expected a torch.nn.Module")
    episodes = _validate.integer("evaluate", "episodes", episodes, minimum=1, error=EvaluationError)
    base_seed = _validate.integer("evaluate", "base_seed", base_seed, minimum=0, error=EvaluationError)
    max_steps = _validate.integer("evaluate", "max_steps", max_steps, minimum=1, error=EvaluationError)
    target = _validate.device("evaluate", device, error=EvaluationError)
    video = None if video_dir is None else Path(video_dir)
    if video is not None and video.exists() and not video.is_dir():
        raise EvaluationError(f"evaluate: video_dir {str(video)!r} exists and is not a directory")
    envs, layout = _make_envs(env_id, episodes, dict(env_kwargs or {}), video_dir=video, base_seed=base_seed)
    modes = [(module, module.training) for module in actor.modules()]
    try:
        actor.eval()
        with torch.no_grad():
            returns, lengths, active = _play(
                actor,
                envs,
                env_id,
                base_seed=base_seed,
                max_steps=max_steps,
                layout=layout,
                device=target,
            )
    finally:
        for module, training in modes:
            module.training = training
        _close(envs, env_id)
    return EvalResult(
        returns=tuple(float(value) for value in returns),
        lengths=tuple(int(value) for value in lengths),
        capped=tuple(bool(value) for value in active),
    )


def _play(
    actor: nn.Module,
    envs: gym.vector.VectorEnv,
    env_id: str,
    *,
    base_seed: int,
    max_steps: int,
    layout: Spaces,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step every sub-environment until each has ended once or ``max_steps`` steps have passed.

    Returns each episode's return and length, and whether it was still running when the cap cut it.
    """
    # A synchronous vector env seeds sub-environment k with base_seed + k.
    observations, info = envs.reset(seed=base_seed)
    count = envs.num_envs
    returns = np.zeros(count, dtype=np.float64)
    lengths = np.zeros(count, dtype=np.int64)
    active = np.ones(count, dtype=np.bool_)
    reader = None
    if layout.action_kind != "box":
        groups = layout.action_nvec or (layout.n_actions,)
        reader = ActionMaskReader.detect(envs, info, groups, where="evaluate", error=EvaluationError)
    for step in range(max_steps):
        # An ended episode's sub-environment keeps stepping (its results ignored): only the active rows need masks.
        masks = None if reader is None else reader.read(info, step=step, rows=active)
        actions = _greedy_actions(actor, observations, active, step=step, layout=layout, device=device, masks=masks)
        observations, rewards, terminated, truncated, info = envs.step(actions)
        returns += np.where(active, rewards, 0.0)
        lengths += active
        active &= ~(terminated | truncated)
        if not active.any():
            break
    return returns, lengths, active


@torch.no_grad()
def evaluate_tensor_envs(
    outputs: Callable[[Tensor], Tensor],
    env_id: str,
    *,
    agents: int = 1,
    episodes: int = 10,
    base_seed: int = 0,
    max_steps: int = 1000,
    device: str | torch.device = "cpu",
) -> list[EvalResult]:
    """Greedy episodes of ``env_id`` on typedrl's tensor environments (:mod:`typedrl.envs.classic`, checked): one
    :class:`EvalResult` per agent, ``episodes`` episodes each, the **same** episodes for every agent.

    ``outputs`` maps observations ``[agents, episodes, *obs]`` to ``[agents, episodes, A]``: logits for a
    ``Discrete`` action space (the action is their argmax), the Gaussian's mean for a ``Box`` one (the action,
    sent clipped to the bounds). The ``agents · episodes`` sub-environments are reset with ``base_seed`` and every
    agent's rows put in the first agent's initial states, so agent ``k``'s episode ``i`` starts where agent 0's
    does; an evaluation of one agent (``agents=1``) with the same ``episodes`` and ``base_seed`` plays the same
    episodes (the first ``episodes`` initial states drawn from a seed do not depend on how many are drawn). Each
    episode counts until its termination or truncation, or ``max_steps`` (``capped``).

    Raises:
        ConfigError: ``env_id`` has no tensor implementation.
    """
    from typedrl.algos.base import tensor_training_env
    from typedrl.envs.classic import TensorVectorEnv

    device = torch.device(device)
    rows = agents * episodes
    env, _ = tensor_training_env(env_id, rows, device=device, autoreset_mode="NextStep")
    try:
        observations, _ = env.reset(seed=base_seed)
        base = env.unwrapped
        assert isinstance(base, TensorVectorEnv)
        base.state = base.state[:episodes].repeat(agents, 1)
        observations = observations[:episodes].repeat(agents, *([1] * (observations.dim() - 1)))
        totals = torch.zeros(rows, dtype=torch.float64, device=device)
        lengths = torch.zeros(rows, dtype=torch.int64, device=device)
        running = torch.ones(rows, dtype=torch.bool, device=device)
        space = env.single_action_space
        bounds = None
        if isinstance(space, gym.spaces.Box):
            bounds = (
                torch.as_tensor(np.asarray(space.low), device=device),
                torch.as_tensor(np.asarray(space.high), device=device),
            )
        for step in range(max_steps):
            scores = outputs(observations.reshape(agents, episodes, *observations.shape[1:]))
            if bounds is None:
                actions = scores.argmax(-1).reshape(rows)
            else:
                actions = torch.clamp(scores.reshape(rows, -1), bounds[0], bounds[1])
            observations, rewards, terminated, truncated, _ = env.step(actions)
            totals += torch.where(running, rewards.to(totals.dtype), 0.0)
            lengths += running.to(torch.int64)
            running &= ~(terminated | truncated)
            if step % 16 == 15 and not bool(running.any()):
                break
    finally:
        env.close()
    values, counts = totals.reshape(agents, episodes).tolist(), lengths.reshape(agents, episodes).tolist()
    capped = running.reshape(agents, episodes).tolist()
    return [
        EvalResult(returns=tuple(values[agent]), lengths=tuple(counts[agent]), capped=tuple(capped[agent]))
        for agent in range(agents)
    ]

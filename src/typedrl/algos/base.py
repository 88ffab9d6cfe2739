"""The seam between the runner and the training algorithms: one protocol, one statistics record, one registry,
and the plumbing every algorithm shares (device, training environment, spaces).

An algorithm is a class that implements :class:`Algorithm` and is constructed from its config alone
(``PPO(config)``). :func:`typedrl.runner.train` loops over :meth:`Algorithm.update` and never asks which
algorithm it runs: counters, the greedy actor, the modules and optimizers to checkpoint, and the generator state
all come through the protocol. Register an algorithm with :func:`register`; the command line, config files
(``algo: NAME``) and checkpoints then find it by name. The docs page "Add an algorithm" shows the smallest one.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium
import torch
from gymnasium.vector import VectorEnv
from torch import nn

from typedrl import _validate
from typedrl._spaces import Spaces, agent_env, read_spaces
from typedrl.config import AlgoConfig
from typedrl.envs import make_env
from typedrl.errors import ConfigError, InputError, TrainingError

__all__ = [
    "Algorithm",
    "AlgorithmSpec",
    "UpdateStats",
    "algorithm_names",
    "algorithm_spec",
    "check_squash",
    "register",
    "resolve_device",
    "spaces_of",
    "tensor_training_env",
    "training_env",
]


@dataclass(frozen=True)
class UpdateStats:
    """What one update (one training iteration) measured; the runner logs it and feeds every sink.

    Losses, entropy, KL and clip fraction are means over the update's last pass (PPO) or its one step
    (REINFORCE). ``losses`` uses the names the training log keeps (``policy`` and ``value`` for PPO,
    ``policy_gradient`` for REINFORCE).
    """

    update: int
    """Updates done, this one included: 1 after the first."""
    env_steps: int
    """Environment steps collected so far, summed over the parallel environments."""
    losses: Mapping[str, float]
    """Loss terms by name."""
    entropy: float
    """Mean entropy of the policy on the update's samples, in nats."""
    learning_rate: float
    """The optimizer's learning rate during this update."""
    episode_returns: tuple[float, ...] = ()
    """Undiscounted returns of the training episodes that ended in this update, in the order they ended."""
    episode_lengths: tuple[int, ...] = ()
    """Their lengths in steps, in the same order."""
    approx_kl: float | None = None
    """Approximate KL(π_old ‖ π_new) (Schulman's k3 estimator ``mean((ρ − 1) − log ρ)``); ``None`` if not computed."""
    clip_fraction: float | None = None
    """Fraction of samples whose probability ratio was clipped; ``None`` without clipping."""
    clip_range: float | None = None
    """The ratio's clipping range ε during this update (annealed or not); ``None`` without clipping."""
    explained_variance: float | None = None
    """``1 − Var(G − V) / Var(G)`` of the value targets ``G`` by the values ``V`` before the update; ``None``
    where it is not defined (``Var(G) = 0``) or not computed."""
    epochs: int | None = None
    """Passes over the batch actually made (PPO: fewer than configured after a ``target_kl`` early stop)."""
    agents: tuple["UpdateStats", ...] = ()
    """With several agents trained at once (``agents > 1``): each agent's own statistics, in agent order (its
    ``env_steps`` its own); the fields above are then the means over agents (``episode_returns``: all agents'
    episodes), and ``explained_variance`` and ``epochs`` are ``None``. Empty for one agent."""
    line: str | None = field(default=None, compare=False)
    """A line to print after this update (REINFORCE prints the tch-rs example's line), or ``None``."""

    @property
    def episode_return_mean(self) -> float | None:
        """Mean of :attr:`episode_returns`, or ``None`` when no episode ended."""
        return math.fsum(self.episode_returns) / len(self.episode_returns) if self.episode_returns else None

    @property
    def episode_length_mean(self) -> float | None:
        """Mean of :attr:`episode_lengths`, or ``None`` when no episode ended."""
        return sum(self.episode_lengths) / len(self.episode_lengths) if self.episode_lengths else None


@runtime_checkable
class Algorithm(Protocol):
    """What the runner needs from a training algorithm.

    Construct it from its config alone: ``Algorithm(config)`` builds the environments, networks and optimizers,
    with everything random seeded from ``config.seed``.
    """

    @property
    def config(self) -> AlgoConfig:
        """The config it was built from."""
        ...

    @property
    def device(self) -> torch.device:
        """Where its networks and updates run."""
        ...

    @property
    def updates_done(self) -> int:
        """Updates (training iterations) done so far."""
        ...

    @property
    def env_steps(self) -> int:
        """Environment steps collected so far."""
        ...

    def update(self) -> UpdateStats:
        """One training iteration; returns what it measured. Raises TrainingError on non-finite numbers."""
        ...

    @property
    def actor(self) -> nn.Module:
        """The greedy evaluation's actor: float32 observations ``[B, *obs]`` → logits ``[B, A]``."""
        ...

    def modules(self) -> dict[str, nn.Module]:
        """The modules a checkpoint saves, by name (the same names :func:`AlgorithmSpec.evaluation_actor` uses)."""
        ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers a checkpoint saves, by name."""
        ...

    def state(self) -> dict[str, Any]:
        """Progress and generator states as plain data, for a checkpoint."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        ...

    def restart_environments(self, seed: int) -> None:
        """Start new episodes at the next update, resetting the environments with ``seed`` (a resumed run)."""
        ...

    def close(self) -> None:
        """Release the environments (the runner calls it once, when the run ends however it ends)."""
        ...


EvaluationActor = Callable[[Any, Spaces], tuple[dict[str, nn.Module], nn.Module]]
"""``(config, spaces) → (modules by checkpoint name, actor)``: the networks greedy evaluation needs, built without
environments or optimizers, ready for a checkpoint's state dicts."""


@dataclass(frozen=True)
class AlgorithmSpec:
    """A registered algorithm: its name, config class, algorithm class, presets and evaluation actor."""

    name: str
    config: type[AlgoConfig]
    algorithm: Callable[[Any], Algorithm]
    evaluation_actor: EvaluationActor
    presets: Mapping[str, Mapping[str, Any]]
    description: str = ""

    def preset(self, name: str = "default", **overrides: Any) -> AlgoConfig:
        """The preset ``name`` with ``overrides`` applied (a ConfigError names an unknown preset or bad value)."""
        from typedrl.config import build

        if name not in self.presets:
            raise ConfigError(f"preset is {name!r}; expected one of {', '.join(self.presets)}", field="preset")
        layers = [(f"{self.name} preset {name!r}", self.presets[name]), (f"{self.name} overrides", overrides)]
        return build(self.config, layers)


_REGISTRY: dict[str, AlgorithmSpec] = {}


def register(
    name: str,
    *,
    config: type[AlgoConfig],
    algorithm: Callable[[Any], Algorithm],
    evaluation_actor: EvaluationActor,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    description: str = "",
) -> AlgorithmSpec:
    """Make an algorithm known by ``name``: to :func:`typedrl.runner.train`, config files, checkpoints and the
    ``typedrl`` command (which gets a subcommand ``NAME`` for the algorithms registered when it starts).

    ``config``'s ``algo`` field must be ``Literal[name]``; ``presets`` maps preset names to field overrides and
    always has a ``"default"`` (the config's own defaults) added when missing.

    Raises:
        ConfigError: the name is taken by another algorithm, or the config's ``algo`` default is not ``name``.
    """
    default = config.model_fields["algo"].default
    if default != name:
        raise ConfigError(f"register: {config.__name__}.algo defaults to {default!r}; expected {name!r}", "algo")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.config is not config:
        raise ConfigError(f"register: the algorithm {name!r} is already registered ({existing.config.__name__})")
    spec = AlgorithmSpec(
        name=name,
        config=config,
        algorithm=algorithm,
        evaluation_actor=evaluation_actor,
        presets={"default": {}, **(presets or {})},
        description=description,
    )
    _REGISTRY[name] = spec
    return spec


def algorithm_names() -> tuple[str, ...]:
    """The registered algorithms' names, in registration order."""
    return tuple(_REGISTRY)


def algorithm_spec(name: object) -> AlgorithmSpec:
    """The registered algorithm ``name``; a :class:`~typedrl.errors.ConfigError` listing the known ones else."""
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        known = ", ".join(repr(known) for known in _REGISTRY)
        raise ConfigError(f"algo is {_validate.brief_repr(name)}; expected one of {known}", "algo")
    return spec


def resolve_device(device: str) -> torch.device:
    """``device`` as a ``torch.device``; a :class:`~typedrl.errors.ConfigError` naming it when this torch cannot
    use it (CUDA asked for and absent, a GPU index past the last)."""
    try:
        return _validate.device("config", device, error=TrainingError)
    except TrainingError as error:
        raise ConfigError(str(error).removeprefix("config: "), "device") from None


# Environment families that need a dependency of their own: the entry point's module, and typedrl's extra.
_EXTRAS = {"gymnasium.envs.mujoco": "mujoco", "gymnasium.envs.box2d": "box2d"}


def _cannot_make(env_id: str, error: BaseException) -> ConfigError:
    if isinstance(error, gymnasium.error.DependencyNotInstalled):
        extra = _extra_for(env_id)
        if extra is not None:
            return ConfigError(f'env_id is {env_id!r}: it needs an extra: pip install "typedrl[{extra}]"', "env_id")
    if isinstance(error, gymnasium.error.Error):
        return ConfigError(f"env_id is {env_id!r}: {error}", "env_id")
    detail = " ".join(f"{type(error).__name__}: {error}".split())
    return ConfigError(f"env_id is {env_id!r}: it cannot be made: {detail}", "env_id")


def _extra_for(env_id: str) -> str | None:
    """typedrl's extra that installs what ``env_id``'s family needs (``mujoco``, ``box2d``), or ``None``."""
    try:
        entry_point = gymnasium.spec(env_id).entry_point
    except gymnasium.error.Error:
        return None
    module = entry_point.split(":")[0] if isinstance(entry_point, str) else getattr(entry_point, "__module__", "")
    return next((extra for prefix, extra in _EXTRAS.items() if module.startswith(prefix)), None)


def spaces_of(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> Spaces:
    """The spaces of ``env_id`` as the agents read them, from one environment made and closed at once.

    Raises:
        ConfigError: the id cannot be made, or its spaces are not ones the agents support.
    """
    try:
        probe = gymnasium.make(env_id, **dict(env_kwargs or {}))
    except Exception as error:  # an unknown id, a missing module or dependency, a constructor that raises
        raise _cannot_make(env_id, error) from None
    try:
        return read_spaces(env_id, probe.observation_space, probe.action_space)
    finally:
        probe.close()


def training_env(env_id: str, *, squash: bool = False, **kwargs: Any) -> tuple[VectorEnv[Any, Any, Any], Spaces]:
    """``make_env(env_id, **kwargs)`` for an agent: the checked vector env (taking action indices, see
    :func:`~typedrl._spaces.agent_env`) and its spaces.

    Raises:
        ConfigError: the id is unknown or cannot be made (a missing module or dependency, a constructor that
            raises), or its spaces are not ones the agents support.
    """
    try:
        env = make_env(env_id, **kwargs)
    except InputError as error:  # the contract refuses the spaces: say it as the agents do, if they refuse too
        spaces_of(env_id, kwargs.get("env_kwargs"))
        raise ConfigError(f"env_id is {env_id!r}: {error}", "env_id") from None
    except Exception as error:
        raise _cannot_make(env_id, error) from None
    try:
        layout = read_spaces(env_id, env.single_observation_space, env.single_action_space)
    except ConfigError:
        env.close()
        raise
    if squash:
        check_squash(env_id, layout)
    return agent_env(env, layout, squash=squash), layout


def tensor_training_env(
    env_id: str, num_envs: int, *, device: torch.device, autoreset_mode: str = "SameStep"
) -> tuple[VectorEnv[Any, Any, Any], Spaces]:
    """typedrl's tensor implementation of ``env_id`` (:mod:`typedrl.envs.classic`) with ``num_envs``
    sub-environments on ``device``, checked by the contract on the device
    (:class:`~typedrl.envs.checked_tensor.CheckedTensorVectorEnv`), in ``autoreset_mode`` (``SAME_STEP`` for
    training, ``DISABLED`` for evaluation), and its spaces.

    Raises:
        ConfigError: ``env_id`` has no tensor implementation.
    """
    from gymnasium.vector import AutoresetMode

    from typedrl.envs.checked_tensor import CheckedTensorVectorEnv
    from typedrl.envs.classic import TENSOR_ENVS, make_tensor_env

    if env_id not in TENSOR_ENVS:
        known = ", ".join(TENSOR_ENVS)
        raise ConfigError(
            f"env_id is {env_id!r}, which has no tensor implementation; env_backend torch runs {known} (or use "
            "env_backend gymnasium)",
            "env_id",
        )
    env = make_tensor_env(env_id, num_envs, device=device, autoreset_mode=AutoresetMode(autoreset_mode))
    checked = CheckedTensorVectorEnv(env, env_id=env_id)
    return checked, read_spaces(env_id, env.single_observation_space, env.single_action_space)


def check_squash(env_id: str, layout: Spaces) -> None:
    """A squashed Gaussian needs Box actions with finite bounds: else a ConfigError on ``squash_actions``."""
    bounds = layout.action_bounds
    if layout.action_kind != "box" or bounds is None:
        raise ConfigError(
            f"squash_actions is true but env {env_id!r} has {layout.action_kind} actions; squashing is for Box actions",
            "squash_actions",
        )
    if not all(math.isfinite(value) for bound in bounds for value in bound):
        raise ConfigError(
            f"squash_actions is true but env {env_id!r} has Box actions with infinite bounds; expected finite ones"
            " to squash onto",
            "squash_actions",
        )

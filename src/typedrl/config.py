"""Training configurations: frozen pydantic models, one documented field per hyperparameter, and presets.

Every field has a description (the CLI's ``--help`` and the config reference in docs/ are generated from
them). Unknown keys are rejected (``extra="forbid"``), so a misspelt key in a config file is an error, not a
silent default. Load a JSON or TOML file with :func:`load_config`; the command line maps its flags onto the
same fields.
"""

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from typedrl.errors import ConfigError

__all__ = [
    "PPO_PRESETS",
    "REINFORCE_PRESETS",
    "EvalConfig",
    "PPOConfig",
    "ReinforceConfig",
    "load_config",
    "ppo_preset",
    "reinforce_preset",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
_Model = TypeVar("_Model", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class EvalConfig(_Frozen):
    """Greedy evaluation during training: argmax actions, undiscounted return, episode ``k`` seeded
    ``seed + k``."""

    every: int = Field(
        default=8, ge=0, description="Evaluate every this many updates (REINFORCE: epochs); 0 turns it off."
    )
    episodes: int = Field(default=10, ge=1, description="Episodes per evaluation, run in parallel.")
    max_steps: int = Field(default=500, ge=1, description="Step cap per evaluation episode.")
    seed: int = Field(default=10_000, ge=0, description="Episode k of every evaluation is seeded seed + k.")


class PPOConfig(_Frozen):
    """Proximal policy optimization (Schulman et al. 2017) with separate actor and critic MLPs.

    One update: collect ``horizon`` steps from each of ``num_envs`` environments, compute GAE advantages and
    λ-return targets (:meth:`typedrl.Rollout.to_actor_critic_sample`), then ``epochs`` passes over the batch in
    ``minibatches`` shuffled minibatches, minimizing
    ``−min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â) + c_v·(V − G^λ)² − c_e·H[π]`` with ``ρ = π(a|s) / π_old(a|s)``.
    """

    algo: Literal["ppo"] = Field(default="ppo", description="The algorithm (fixed).")
    env_id: str = Field(
        default="CartPole-v1", description="Gymnasium environment id (Box observations, Discrete actions)."
    )
    num_envs: int = Field(default=8, ge=1, description="Parallel environments in the vector env.")
    seed: int = Field(default=0, ge=0, description="Seeds the environments, the network initialisation and sampling.")
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="Where the networks and updates run.")
    updates: int = Field(default=200, ge=1, description="Number of PPO updates (each collects horizon·num_envs steps).")
    horizon: int = Field(default=32, ge=1, description="Steps collected per environment per update (T).")
    epochs: int = Field(default=20, ge=1, description="Passes over each collected batch.")
    minibatches: int = Field(default=1, ge=1, description="Minibatches per pass (each of T·N/minibatches samples).")
    gamma: Probability = Field(default=0.98, description="Discount γ.")
    lam: Probability = Field(default=0.8, description="GAE λ.")
    learning_rate: float = Field(default=2e-3, gt=0.0, description="Adam learning rate (at the start, if annealed).")
    anneal_lr: bool = Field(default=True, description="Anneal the learning rate linearly to 0 over the updates.")
    clip: float = Field(default=0.2, gt=0.0, description="Clipping range ε of the probability ratio.")
    anneal_clip: bool = Field(default=True, description="Anneal ε linearly to 0 over the updates.")
    value_coef: float = Field(default=0.5, ge=0.0, description="Weight c_v of the value loss.")
    entropy_coef: float = Field(default=0.0, ge=0.0, description="Weight c_e of the entropy bonus.")
    max_grad_norm: float | None = Field(
        default=0.5, gt=0.0, description="Clip the global gradient norm to this; null turns clipping off."
    )
    hidden: int = Field(default=64, ge=1, description="Width of each hidden layer of the actor and the critic.")
    layers: int = Field(default=2, ge=1, description="Hidden layers in the actor and in the critic.")
    activation: Literal["tanh", "relu"] = Field(default="tanh", description="Hidden-layer activation.")
    target_return: float | None = Field(
        default=None, description="Stop once a greedy evaluation's mean return reaches this; null trains all updates."
    )
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Greedy evaluation during training.")

    @model_validator(mode="after")
    def _batch_divides(self) -> "PPOConfig":
        batch = self.horizon * self.num_envs
        if self.minibatches > batch:
            raise ValueError(f"minibatches is {self.minibatches}; expected at most horizon·num_envs = {batch}")
        return self


class ReinforceConfig(_Frozen):
    """REINFORCE with reward-to-go, after the tch-rs CartPole policy-gradient example.

    Each epoch collects whole episodes until more than ``min_steps_per_epoch`` steps, then takes one Adam step
    on ``−mean(Gₜ · log π(aₜ|sₜ))`` with ``Gₜ`` the reward-to-go inside the episode
    (:func:`typedrl.discounted_returns`).
    """

    algo: Literal["reinforce"] = Field(default="reinforce", description="The algorithm (fixed).")
    env_id: str = Field(
        default="CartPole-v1", description="Gymnasium environment id (Box observations, Discrete actions)."
    )
    num_envs: int = Field(default=8, ge=1, description="Environments collecting episodes in parallel.")
    seed: int = Field(default=0, ge=0, description="Seeds the environments, the network initialisation and sampling.")
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="Where the network and updates run.")
    epochs: int = Field(default=50, ge=1, description="Number of epochs (one gradient step each).")
    min_steps_per_epoch: int = Field(
        default=5000, ge=1, description="An epoch collects whole episodes until it has more than this many steps."
    )
    gamma: Probability = Field(default=1.0, description="Discount γ of the reward-to-go (1: undiscounted).")
    learning_rate: float = Field(default=1e-2, gt=0.0, description="Adam learning rate.")
    hidden: int = Field(default=32, ge=1, description="Width of the policy's hidden layer.")
    max_episode_steps: int | None = Field(
        default=None, ge=1, description="Cap on episode length; null keeps the environment's own time limit."
    )
    eval: EvalConfig = Field(
        default_factory=lambda: EvalConfig(every=0), description="Greedy evaluation during training (off by default)."
    )


PPO_PRESETS: dict[str, dict[str, Any]] = {
    # Tuned to solve CartPole-v1 fast on a CPU: the zoo's settings with a 51,200-step budget and lr 2e-3, so the
    # linear annealing settles the policy sooner (seeds 0-4: stable at 500 from 8k-20k steps; docs/benchmarks.md).
    "default": {},
    # rl-baselines3-zoo's CartPole-v1 settings for SB3 PPO (the benchmark's peer): 1e5 steps, lr 1e-3.
    "sb3-zoo": {"updates": 390, "learning_rate": 1e-3},
    # TorchLean's PPO CartPole demo.
    "torchlean": {
        "num_envs": 1,
        "horizon": 64,
        "hidden": 32,
        "gamma": 0.99,
        "lam": 0.95,
        "learning_rate": 3e-4,
        "anneal_lr": False,
        "anneal_clip": False,
        "epochs": 2,
        "minibatches": 1,
        "clip": 0.2,
        "value_coef": 0.5,
        "entropy_coef": 0.01,
        "max_grad_norm": None,
        "updates": 1000,
        "target_return": 475.0,
        "eval": {"every": 50, "episodes": 5, "max_steps": 500},
    },
}

REINFORCE_PRESETS: dict[str, dict[str, Any]] = {
    # The tch-rs example: 50 epochs of more than 5000 steps, Adam 1e-2, 32 tanh units, γ = 1.
    "default": {},
}


def _build(model: type[_Model], data: dict[str, Any], where: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(config)"
        value = first.get("input")
        raise ConfigError(f"{where}: {field}: {first['msg']} (got {value!r})", field=field) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def ppo_preset(name: str = "default", **overrides: Any) -> PPOConfig:
    """The PPO preset ``name`` (``default``, ``sb3-zoo``, ``torchlean``) with ``overrides`` applied."""
    if name not in PPO_PRESETS:
        raise ConfigError(f"preset is {name!r}; expected one of {', '.join(PPO_PRESETS)}", field="preset")
    return _build(PPOConfig, _merge(PPO_PRESETS[name], overrides), f"ppo preset {name!r}")


def reinforce_preset(name: str = "default", **overrides: Any) -> ReinforceConfig:
    """The REINFORCE preset ``name`` (``default``) with ``overrides`` applied."""
    if name not in REINFORCE_PRESETS:
        raise ConfigError(f"preset is {name!r}; expected one of {', '.join(REINFORCE_PRESETS)}", field="preset")
    return _build(ReinforceConfig, _merge(REINFORCE_PRESETS[name], overrides), f"reinforce preset {name!r}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON (``.json``) or TOML (``.toml``) config file into a dict, with a clear error if it is bad."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"config file {str(file)!r} cannot be read: {error.strerror}", field="config") from None
    try:
        data: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"config file {str(file)!r} is not valid {file.suffix[1:] or 'JSON'}: {error}", field="config"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(file)!r} holds a {type(data).__name__}; expected a table of fields", field="config"
        )
    return data


def load_config(path: str | Path, *, algo: Literal["ppo", "reinforce"] | None = None) -> PPOConfig | ReinforceConfig:
    """Load a JSON or TOML config file; its ``algo`` key (or the ``algo`` argument) picks the model."""
    data = read_config_file(path)
    chosen = algo or data.get("algo", "ppo")
    if chosen == "ppo":
        return _build(PPOConfig, data, f"config file {str(path)!r}")
    if chosen == "reinforce":
        return _build(ReinforceConfig, data, f"config file {str(path)!r}")
    raise ConfigError(f"config file {str(path)!r}: algo is {chosen!r}; expected 'ppo' or 'reinforce'", field="algo")

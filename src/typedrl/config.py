"""Training configurations: frozen pydantic models, one documented field per hyperparameter, and presets.

Every field has a description (the config reference in docs/ is generated from them). Values are checked
strictly: unknown keys are rejected (``extra="forbid"``, so a misspelt key in a config file is an error, not a
silent default); an integer field takes an integer, never ``true`` or ``8.0`` or ``"8"``; a float field takes a
finite number (NaN and infinity are refused); numpy scalars are read as the Python numbers they hold; every
count has an upper bound, so a typo cannot ask for terabytes. Load a JSON, TOML or YAML file with
:func:`load_config`; the command line maps its flags onto the same fields.

A config is built from layers, each overriding the one before: a preset, then a file, then keyword overrides (the
command line's flags). An invalid value is blamed on the layer that supplied it: ``config file 'run.toml':
learning_rate: ...`` or ``--seed: ...``, never on the preset when the preset did not set it.
"""

import itertools
import json
import math
import os
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from typedrl._validate import map_nested
from typedrl.errors import ConfigError

__all__ = [
    "CONFIG_SUFFIXES",
    "MAX_BATCH",
    "MAX_PARAMETERS",
    "MAX_SEED",
    "PPO_PRESETS",
    "REINFORCE_PRESETS",
    "AlgoConfig",
    "Config",
    "EvalConfig",
    "Layer",
    "PPOConfig",
    "ReinforceConfig",
    "build",
    "config_class",
    "load_config",
    "ppo_preset",
    "preset_for_env",
    "read_config_file",
    "reinforce_preset",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
SweepField = Literal[
    "learning_rate", "clip", "entropy_coef", "value_coef", "max_grad_norm", "target_kl", "gamma", "lam"
]
"""The PPO hyperparameters that :attr:`PPOConfig.sweep` may give each agent a value of (the ones that are numbers
inside one update; sizes such as ``num_envs`` or ``hidden`` are shared by all agents)."""
_Model = TypeVar("_Model", bound=BaseModel)


MAX_SEED = 2**32 - 1
"""The largest seed (numpy's legacy bound, as SB3 uses): seeds and ``seed + k`` stay valid for every generator."""
MAX_PARAMETERS = 2**28
"""The most parameters an actor or critic may have (about 1 GiB of float32, four with Adam's state)."""
MAX_BATCH = 2**26
"""The most transitions one rollout may hold (``horizon · num_envs``)."""


class _FieldsError(ValueError):
    """A check of several fields together: ``fields`` says which, so the error is blamed on the layer that set
    one of them."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


def _plain_numbers(value: Any) -> Any:
    """numpy scalars (e.g. ``np.int64(8)``, ``np.float32(0.99)``) become the Python numbers they hold, in nested
    dicts and lists too; everything else is left for the strict validation."""

    def plain(_: str, leaf: object) -> object:
        item = getattr(leaf, "item", None)
        if type(leaf).__module__ == "numpy" and callable(item) and getattr(leaf, "ndim", None) == 0:
            return item()
        return leaf

    return map_nested(value, plain)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numpy_scalars(cls, data: Any) -> Any:
        return _plain_numbers(data)


class EvalConfig(_Frozen):
    """Greedy evaluation during training: argmax actions, undiscounted return, episode ``k`` seeded
    ``seed + k``."""

    every: int = Field(
        default=8, ge=0, le=2**40, description="Evaluate every this many updates (REINFORCE: epochs); 0 turns it off."
    )
    episodes: int = Field(default=10, ge=1, le=10_000, description="Episodes per evaluation, run in parallel.")
    max_steps: int = Field(default=500, ge=1, le=10**9, description="Step cap per evaluation episode.")
    seed: int = Field(
        default=10_000, ge=0, le=MAX_SEED - 100_000, description="Episode k of every evaluation is seeded seed + k."
    )


class AlgoConfig(_Frozen):
    """What every algorithm's config has: the environment, the seed, the device, the budget, evaluation and
    checkpoints. An algorithm's own config subclasses it and fixes ``algo`` to its registered name
    (:func:`typedrl.algos.register`); a config is a union discriminated on ``algo``.

    The budget is counted in **updates** for every algorithm: one update is one training iteration (PPO: one
    rollout and its epochs of minibatch steps; REINFORCE: one batch of whole episodes and one gradient step).
    """

    algo: str = Field(description="The algorithm: the name it is registered under (fixed by each config class).")
    env_id: str = Field(
        default="CartPole-v1", description="Gymnasium environment id (Box observations, Discrete actions)."
    )
    num_envs: int = Field(default=8, ge=1, le=2**16, description="Parallel environments in the vector env.")
    vector: Literal["sync", "async"] = Field(
        default="sync",
        description="sync: the environments step one after the other in this process (Gymnasium's native vector "
        "env where there is one); async: Gymnasium's AsyncVectorEnv, one worker process per environment, stepped in "
        "parallel (for environments whose step costs more than a round trip to a worker: MuJoCo, Box2D).",
    )
    env_timeout: float = Field(
        default=60.0,
        gt=0.0,
        le=86_400.0,
        description="With vector: async, the seconds a worker may take to answer one reset or step before the run "
        "stops with an error naming it (a hung environment never hangs the trainer).",
    )
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="Seeds the environments, the network initialisation and sampling."
    )
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="Where the networks and updates run.")
    updates: int = Field(default=200, ge=1, le=2**40, description="The budget: training iterations (updates).")
    target_return: float | None = Field(
        default=None, description="Stop once a greedy evaluation's mean return reaches this; null trains all updates."
    )
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Greedy evaluation during training.")
    checkpoint_every: int = Field(
        default=8,
        ge=1,
        le=2**40,
        description="Write checkpoint.pt (and the log) every this many updates, besides after each evaluation.",
    )

    # The eval settings a partial ``eval`` table starts from: the class's own default, not EvalConfig's (REINFORCE
    # evaluates by default never; ``eval={"episodes": 2}`` must not switch it on).
    _eval_defaults: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _partial_eval(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("eval"), Mapping) and cls._eval_defaults:
            data = {**data, "eval": {**cls._eval_defaults, **data["eval"]}}
        return data


class PPOConfig(AlgoConfig):
    """Proximal policy optimization (Schulman et al. 2017) with separate actor and critic MLPs.

    One update: collect ``horizon`` steps from each of ``num_envs`` environments, compute GAE advantages and
    λ-return targets, then ``epochs`` passes over the batch in shuffled minibatches, minimizing
    ``−min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â) + c_v·(V − G^λ)² − c_e·H[π]`` with ``ρ = π(a|s) / π_old(a|s)``
    (:mod:`typedrl.algos.ppo`).
    """

    algo: Literal["ppo"] = Field(default="ppo", description="The algorithm (fixed).")
    num_envs: int = Field(default=16, ge=1, le=2**16, description="Parallel environments in the vector env.")
    updates: int = Field(
        default=240, ge=1, le=2**40, description="Number of PPO updates (each collects horizon·num_envs steps)."
    )
    horizon: int = Field(default=16, ge=1, le=2**20, description="Steps collected per environment per update (T).")
    epochs: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Passes over each collected batch (SB3 n_epochs, CleanRL update_epochs).",
    )
    minibatches: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BATCH,
        description="Minibatches per pass (CleanRL num_minibatches); null: from minibatch_size, else 1.",
    )
    minibatch_size: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BATCH,
        description="Samples per minibatch (SB3 batch_size); must divide horizon·num_envs. Exclusive with minibatches.",
    )
    gamma: Probability = Field(default=0.98, description="Discount γ.")
    lam: Probability = Field(default=0.8, description="GAE λ (SB3/CleanRL gae_lambda).")
    normalize_advantage: Literal["batch", "minibatch", "off"] = Field(
        default="batch",
        description="Z-score the advantages over the whole batch, per minibatch (SB3, CleanRL), or not at all.",
    )
    learning_rate: float = Field(default=1.5e-3, gt=0.0, description="Adam learning rate (at the start, if annealed).")
    anneal_lr: bool = Field(default=True, description="Anneal the learning rate linearly to 0 over the updates.")
    clip: float = Field(default=0.2, gt=0.0, description="Clipping range ε of the probability ratio (SB3 clip_range).")
    anneal_clip: bool = Field(default=True, description="Anneal ε linearly to 0 over the updates.")
    clip_range_vf: float | None = Field(
        default=None,
        gt=0.0,
        description="Clip the value prediction to this distance from the old value (SB3 clip_range_vf, CleanRL "
        "clip_vloss); null turns value clipping off.",
    )
    target_kl: float | None = Field(
        default=0.05,
        gt=0.0,
        description="Stop the update's epochs early once a minibatch's approximate KL exceeds 1.5 × this (SB3 "
        "target_kl); null never stops early.",
    )
    value_coef: float = Field(default=0.5, ge=0.0, description="Weight c_v of the value loss (SB3 vf_coef).")
    entropy_coef: float = Field(default=0.0, ge=0.0, description="Weight c_e of the entropy bonus (SB3 ent_coef).")
    max_grad_norm: float | None = Field(
        default=0.5, gt=0.0, description="Clip the global gradient norm to this; null turns clipping off."
    )
    hidden: int = Field(
        default=64, ge=1, le=2**16, description="Width of each hidden layer of the actor and the critic."
    )
    layers: int = Field(default=2, ge=1, le=64, description="Hidden layers in the actor and in the critic.")
    activation: Literal["tanh", "relu"] = Field(default="tanh", description="Hidden-layer activation.")
    log_std_init: float = Field(
        default=0.0,
        ge=-20.0,
        le=5.0,
        description="Box actions: the Gaussian policy's initial log standard deviation (SB3 log_std_init).",
    )
    ortho_init: bool = Field(
        default=True,
        description="Orthogonal initialisation (gain sqrt(2) in hidden layers, 0.01 for the actor's output, 1 for "
        "the critic's; zero biases), as SB3's ortho_init and CleanRL; false keeps PyTorch's nn.Linear default "
        "(uniform in +-1/sqrt(fan_in), biases too).",
    )
    normalize_observations: bool = Field(
        default=False,
        description="Normalize observations by their running mean and variance, clipped to ±10 (SB3 VecNormalize "
        "norm_obs); the statistics are saved with the model and applied, frozen, in evaluation.",
    )
    normalize_rewards: bool = Field(
        default=False,
        description="Scale rewards by the running discounted return's standard deviation, clipped to ±10 (SB3 "
        "VecNormalize norm_reward); logs and evaluation report raw returns.",
    )
    squash_actions: bool = Field(
        default=False,
        description="Box actions: a tanh-squashed Gaussian mapped onto the bounds (SB3 squash_output, SAC's "
        "policy) instead of a Gaussian clipped to them; needs finite bounds.",
    )

    agents: int = Field(
        default=1,
        ge=1,
        le=4096,
        description="Independent agents trained at once in one process (seeds seed, seed+1, …), each with its own "
        "num_envs environments, as batched tensors; 1 is the single-agent run.",
    )
    sweep: dict[SweepField, list[float]] | None = Field(
        default=None,
        description="A grid of hyperparameter values for the agents, e.g. {learning_rate: [3e-4, 1e-3], gamma: [0.9, "
        "0.99]}: every combination of the values (a point) goes to agents / points consecutive agents, which differ "
        "by seed; agents must be a multiple of the number of points.",
    )
    env_backend: Literal["gymnasium", "torch"] = Field(
        default="gymnasium",
        description="gymnasium: Gymnasium's (vector) environments; torch: typedrl's tensor environments "
        "(typedrl.envs.classic, for CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0, Pendulum-v1), "
        "stepped as tensors on the device.",
    )

    @model_validator(mode="after")
    def _sizes_fit(self) -> "PPOConfig":
        batch = self.horizon * self.num_envs
        if batch > MAX_BATCH:
            raise _FieldsError(
                f"horizon·num_envs is {batch}; expected at most {MAX_BATCH} transitions per rollout",
                ("horizon", "num_envs"),
            )
        if self.minibatches is not None and self.minibatch_size is not None:
            raise _FieldsError(
                f"minibatches is {self.minibatches} and minibatch_size is {self.minibatch_size}; expected at most one",
                ("minibatches", "minibatch_size"),
            )
        if self.minibatch_size is not None and (self.minibatch_size > batch or batch % self.minibatch_size):
            raise _FieldsError(
                f"minibatch_size is {self.minibatch_size}; expected a divisor of horizon·num_envs = {batch}",
                ("minibatch_size", "horizon", "num_envs"),
            )
        if self.minibatches is not None and self.minibatches > batch:
            raise _FieldsError(
                f"minibatches is {self.minibatches}; expected at most horizon·num_envs = {batch}",
                ("minibatches", "horizon", "num_envs"),
            )
        _check_network_size(self.hidden, self.layers)
        if self.env_backend == "torch" and self.vector == "async":
            raise _FieldsError(
                "vector is 'async' but env_backend is 'torch': the tensor environments step in this process; expected "
                "vector 'sync' (or env_backend 'gymnasium')",
                ("vector", "env_backend"),
            )
        if self.agents * self.num_envs > 2**16:
            raise _FieldsError(
                f"agents·num_envs is {self.agents * self.num_envs}; expected at most 65536 environments in all",
                ("agents", "num_envs"),
            )
        sweep = self.sweep or {}
        for name, values in sweep.items():
            if not values:
                raise _FieldsError(f"sweep.{name} has no values; expected at least one", ("sweep",))
            for value in values:
                _check_sweep_value(name, value)
        points = math.prod(len(values) for values in sweep.values())
        if self.agents % points:
            sizes = " × ".join(str(len(values)) for values in sweep.values())
            grid = f"{sizes} = {points} points" if len(sweep) > 1 else f"{points} values"
            raise _FieldsError(
                f"sweep has {grid}; expected agents ({self.agents}) to be a multiple of {points}",
                ("sweep", "agents"),
            )
        return self

    def agent_values(self, name: SweepField) -> list[float]:
        """The value of hyperparameter ``name`` for each agent: the config's own, or the agent's point of the
        ``sweep`` grid. The grid is every combination of the swept values (``itertools.product`` order, the last
        name varying fastest); ``agents / points`` consecutive agents (seeds) share each point. An unset
        ``max_grad_norm`` or ``target_kl`` (``None``) is ``inf``: no clipping, no stop."""
        sweep = self.sweep or {}
        base = getattr(self, name)
        base = math.inf if base is None else base
        if name not in sweep:
            return [float(base)] * self.agents
        points = list(itertools.product(*sweep.values()))
        position = list(sweep).index(name)
        seeds = self.agents // len(points)
        return [float(points[agent // seeds][position]) for agent in range(self.agents)]

    @property
    def minibatch_count(self) -> int:
        """The number of minibatches per pass that ``minibatches`` or ``minibatch_size`` asks for."""
        if self.minibatch_size is not None:
            return self.horizon * self.num_envs // self.minibatch_size
        return self.minibatches if self.minibatches is not None else 1


class ReinforceConfig(AlgoConfig):
    """REINFORCE with reward-to-go, after the tch-rs CartPole policy-gradient example.

    Each update collects whole episodes until more than ``min_steps_per_update`` steps (the example's "epoch"),
    then takes one Adam step on ``−mean(Gₜ · log π(aₜ|sₜ))`` with ``Gₜ`` the reward-to-go inside the episode
    (:func:`typedrl.discounted_returns`). The keys of typedrl 0.1, ``epochs`` and ``min_steps_per_epoch``, are read
    as ``updates`` and ``min_steps_per_update`` (with a :class:`DeprecationWarning`).
    """

    algo: Literal["reinforce"] = Field(default="reinforce", description="The algorithm (fixed).")
    num_envs: int = Field(
        default=32, ge=1, le=2**16, description="Environments collecting whole episodes side by side."
    )
    updates: int = Field(
        default=50, ge=1, le=2**40, description="Number of updates (the example's epochs: one gradient step each)."
    )
    min_steps_per_update: int = Field(
        default=5000,
        ge=1,
        le=MAX_BATCH,
        description="An update collects whole episodes until it has more than this many steps.",
    )
    gamma: Probability = Field(default=1.0, description="Discount γ of the reward-to-go (1: undiscounted).")
    learning_rate: float = Field(default=1e-2, gt=0.0, description="Adam learning rate.")
    hidden: int = Field(default=32, ge=1, le=2**16, description="Width of the policy's hidden layer.")
    log_std_init: float = Field(
        default=0.0,
        ge=-20.0,
        le=5.0,
        description="Box actions: the Gaussian policy's initial log standard deviation.",
    )
    max_episode_steps: int | None = Field(
        default=None, ge=1, le=10**9, description="Cap on episode length; null keeps the environment's own time limit."
    )
    eval: EvalConfig = Field(
        default_factory=lambda: EvalConfig(every=0), description="Greedy evaluation during training (off by default)."
    )
    _eval_defaults: ClassVar[dict[str, Any]] = {"every": 0}
    checkpoint_every: int = Field(
        default=1,
        ge=1,
        le=2**40,
        description="Write checkpoint.pt (and the log) every this many updates, besides after each evaluation.",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        renamed = {"epochs": "updates", "min_steps_per_epoch": "min_steps_per_update"}
        data = dict(data)
        for old, new in renamed.items():
            if old in data:
                if new in data:
                    raise _FieldsError(f"{old} is the old name of {new}; give one of them", (old, new))
                warnings.warn(f"ReinforceConfig: {old!r} is now {new!r}", DeprecationWarning, stacklevel=2)
                data[new] = data.pop(old)
        return data


Config = Annotated[PPOConfig | ReinforceConfig, Field(discriminator="algo")]
"""A built-in algorithm's config: :class:`PPOConfig` or :class:`ReinforceConfig`, by ``algo``."""


_SWEEP_DOMAINS: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low is allowed)
    "learning_rate": (0.0, math.inf, False),
    "clip": (0.0, math.inf, False),
    "entropy_coef": (0.0, math.inf, True),
    "value_coef": (0.0, math.inf, True),
    "max_grad_norm": (0.0, math.inf, False),
    "target_kl": (0.0, math.inf, False),
    "gamma": (0.0, 1.0, True),
    "lam": (0.0, 1.0, True),
}


def _check_sweep_value(name: str, value: float) -> None:
    low, high, closed = _SWEEP_DOMAINS[name]
    if not (math.isfinite(value) and (value >= low if closed else value > low) and value <= high):
        bound = f"[{low:g}, {high:g}]" if math.isfinite(high) else f"{'>=' if closed else '>'} {low:g}"
        raise _FieldsError(f"sweep.{name} holds {value!r}; expected finite values {bound}", ("sweep",))


def _check_network_size(hidden: int, layers: int) -> None:
    # The hidden-to-hidden weights dominate; the input and output layers depend on the env and are small.
    parameters = hidden * hidden * (layers - 1) + hidden * (layers + 1)
    if parameters > MAX_PARAMETERS:
        raise _FieldsError(
            f"hidden {hidden} with layers {layers} makes about {parameters:,} parameters per network; expected at "
            f"most {MAX_PARAMETERS:,}",
            ("hidden", "layers"),
        )


PPO_PRESETS: dict[str, dict[str, Any]] = {
    # Tuned to solve CartPole-v1 fast on a CPU and stay solved: the zoo's batch of 256 steps per update as 16
    # environments x 16 steps, lr 1.5e-3, a 61,440-step budget over which lr and clip range anneal to 0, and the
    # epochs stopped at an approximate KL of 1.5 x 0.05. Without the KL stop a policy that had held 500 for 20k
    # steps could collapse to ~250 and not recover (seed 8); with it seeds 0-19 all end stable at 500.
    # bench/bench_ppo.py measures seeds 0-9 against SB3.
    "default": {},
    # rl-baselines3-zoo's CartPole-v1 settings for SB3 PPO (the benchmark's peer): 8 envs x 32 steps, 1e5 steps,
    # lr 1e-3, and SB3's per-minibatch advantage normalization (one minibatch of 256, so the same as per batch).
    "sb3-zoo": {
        "target_kl": None,
        "num_envs": 8,
        "horizon": 32,
        "updates": 390,
        "learning_rate": 1e-3,
        "normalize_advantage": "minibatch",
    },
    # Acrobot-v1 (reward -1 per step, 500-step limit): the zoo's gamma and lambda, 16 envs x 64 steps, 102,400
    # steps. Seeds 0-4 end at -78 to -91, better than Gymnasium's -100 threshold (bench/bench_ppo.py).
    "acrobot": {
        "env_id": "Acrobot-v1",
        "target_kl": None,
        "num_envs": 16,
        "horizon": 64,
        "updates": 100,
        "gamma": 0.99,
        "lam": 0.95,
    },
    # Pendulum-v1 (Box(-2, 2, (1,)) torque, 200-step episodes, reward -16.3 to 0 per step): rl-baselines3-zoo's
    # settings without gSDE, which typedrl does not have (4 envs x 1024 steps, minibatches of 64, 10 epochs,
    # lambda 0.95, lr 1e-3), 102,400 steps; the Gaussian's log-std starts at 0. One change: gamma 0.95, not the
    # zoo's 0.9. With 0.9 the hanging start states take a second swing; seeds 0-4 ended at a greedy mean of -131
    # to -146 (median -145), with 0.95 at -126 to -140 (median -127), and on other seeds and start states (seeds
    # 5-9, evaluation seed 20000) at a median of -142 against -164. bench/bench_continuous.py measures 5 seeds.
    "pendulum": {
        "env_id": "Pendulum-v1",
        "num_envs": 4,
        "horizon": 1024,
        "updates": 25,
        "minibatch_size": 64,
        "epochs": 10,
        "gamma": 0.95,
        "lam": 0.95,
        "learning_rate": 1e-3,
        "anneal_clip": False,
        "target_kl": None,
        "eval": {"every": 5, "episodes": 10, "max_steps": 200},
    },
    # LunarLander-v3 (Discrete(4) engines, 8 observations, episodes up to 1000 steps, solved at 200):
    # rl-baselines3-zoo's settings (minibatches of 64, 4 epochs, gamma 0.999, lambda 0.98, entropy 0.01, SB3's
    # default lr 3e-4 and clip 0.2, both constant) and its budget of 1e6 steps (245 updates), with one change: 16
    # envs x 256 steps per update instead of x 1024. The same gradient steps per sample, four times as many
    # rollouts: at 300k steps seeds 0-4 end at a greedy mean of 96 to 175 (median 166) where the zoo's rollout gives
    # -112 to 168 (median -97), and seeds 5-9 (evaluation seed 20000) at 24 to 183 (median 139) against -139 to
    # 105 (median -95). bench/bench_continuous.py measures 3 seeds at 300k steps against SB3.
    "lunarlander": {
        "env_id": "LunarLander-v3",
        "num_envs": 16,
        "horizon": 256,
        "updates": 245,
        "minibatch_size": 64,
        "epochs": 4,
        "gamma": 0.999,
        "lam": 0.98,
        "entropy_coef": 0.01,
        "learning_rate": 3e-4,
        "anneal_lr": False,
        "anneal_clip": False,
        "target_kl": None,
        "eval": {"every": 16, "episodes": 10, "max_steps": 1000},
    },
    # HalfCheetah-v5 (Box(-1, 1, (6,)) torques, 17 observations, 1000-step episodes): rl-baselines3-zoo's tuned
    # settings for HalfCheetah (one env x 512 steps, minibatches of 64, 20 epochs, gamma 0.98, lambda 0.92, clip 0.1,
    # entropy 4.01762e-4, value 0.58096, grad norm 0.8, observations and rewards normalized, ReLU 256 x 256
    # networks, log-std starting at -2) and its 1e6-step budget (1953 updates), with one change: lr 4e-5, not the
    # zoo's 2.0633e-5. At 200k steps seeds 0-2 end at a greedy mean of 3846 to 4079 (mean 3961) where the zoo's lr
    # gives 3503 to 3799 (mean 3673), and seeds 3-5 (evaluation seed 20000) at 4553 to 4732 (mean 4668) against
    # 3939 to 4371 (mean 4224). The zoo's ortho_init=False measured worse here (seeds 0-2: 4354, 2109, 3738), so the
    # preset keeps orthogonal initialisation. bench/bench_continuous.py measures 3 seeds at 200k steps against SB3.
    # Needs typedrl[mujoco].
    "halfcheetah": {
        "env_id": "HalfCheetah-v5",
        "num_envs": 1,
        "horizon": 512,
        "updates": 1953,
        "minibatch_size": 64,
        "epochs": 20,
        "gamma": 0.98,
        "lam": 0.92,
        "learning_rate": 4e-5,
        "anneal_lr": False,
        "clip": 0.1,
        "anneal_clip": False,
        "entropy_coef": 0.000401762,
        "value_coef": 0.58096,
        "max_grad_norm": 0.8,
        "target_kl": None,
        "normalize_observations": True,
        "normalize_rewards": True,
        "hidden": 256,
        "activation": "relu",
        "log_std_init": -2.0,
        "eval": {"every": 40, "episodes": 10, "max_steps": 1000},
    },
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
        "target_kl": None,
        "updates": 1000,
        "target_return": 475.0,
        "eval": {"every": 50, "episodes": 5, "max_steps": 500},
    },
    # Many agents at once on typedrl's tensor CartPole (typedrl ppo --preset tensor-cartpole --agents 32), chosen
    # for the time until 32 agents are all solved (greedy mean >= 475) on one CPU core, bench/bench_throughput.py:
    # 128 envs x 8 steps per agent and update, 4 epochs of 2 minibatches, Adam 4e-3 held constant, 32 tanh units
    # (a fifth of the 64-unit network's arithmetic, which bounds many agents on a CPU), gamma 0.99, lambda 0.95.
    # Tried on agents 0-31 (seeds 0-31): 16 envs x 16 steps with 64 units solves them all in 21k steps each but
    # runs one agent at 17k steps/s; 64 x 16 at lr 2.5e-3 in 184k; 128 x 8 at 2.5e-3 in 176k; 256 x 4 in 250k;
    # 128 x 8 at 4e-3 in 139k. Held out (seeds 100-131): 128 x 8 at 4e-3 in 143k, at 2.5e-3 in 168k.
    "tensor-cartpole": {
        "env_backend": "torch",
        "num_envs": 128,
        "horizon": 8,
        "epochs": 4,
        "minibatches": 2,
        "learning_rate": 4e-3,
        "anneal_lr": False,
        "anneal_clip": False,
        "target_kl": None,
        "gamma": 0.99,
        "lam": 0.95,
        "hidden": 32,
        "updates": 200,
        "eval": {"every": 10, "episodes": 10, "max_steps": 500},
    },
}

REINFORCE_PRESETS: dict[str, dict[str, Any]] = {
    # The tch-rs example: 50 epochs of more than 5000 steps, Adam 1e-2, 32 tanh units, γ = 1; 32 environments
    # side by side (the example plays one; an epoch then ends with up to 32 episodes running past 5000 steps, so an
    # epoch holds about 10,000 steps, twice the example's). Median last-epoch return: 481 over seeds 0-9 with 32
    # environments; 473 over seeds 0-4 with 16, where the one-environment example has 459 (bench_reinforce.py).
    "default": {},
}


Layer = tuple[str, Mapping[str, Any]]
"""One source of config values: ``(name, data)``, e.g. ``("config file 'run.toml'", {...})``. The name starts
the message of an error in that layer's values; a name that is a command-line flag (``"--seed"``) stands for the
field too."""


def _has(data: Any, location: Sequence[int | str]) -> bool:
    """Whether ``data`` holds ``location`` (pydantic's: keys, list indices, and ``"[key]"`` for a mapping's key)."""
    for part in location:
        if part == "[key]":  # the key itself was refused: it is there, one level up
            return True
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            continue
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True


def _first_error(error: ValidationError) -> tuple[str, list[tuple[int | str, ...]], str]:
    """The first error's field name, the locations that may have caused it, and its message."""
    first = error.errors()[0]
    location = tuple(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] != "value_error" and "input" in first:
        shown = repr(first["input"])
        message += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _FieldsError):
        prefix = location
        return ", ".join(cause.fields), [(*prefix, name) for name in cause.fields], message
    return ".".join(str(part) for part in location) or "(config)", [location], message


def build(model: type[_Model], layers: Sequence[Layer]) -> _Model:
    """Merge ``layers`` (later ones override earlier ones, nested tables key by key) and validate into ``model``.

    Raises:
        ConfigError: the first invalid value, blamed on the last layer that set it (the first layer when the
            problem is of the whole config), with ``field`` the dotted field name.
    """
    merged: dict[str, Any] = {}
    for _, data in layers:
        merged = _merge(merged, dict(data))
    try:
        return model.model_validate(merged)
    except ValidationError as error:
        field, locations, message = _first_error(error)
        blamed = next(
            (
                name
                for name, data in reversed(layers)
                if any(location and _has(data, location) for location in locations)
            ),
            layers[0][0],
        )
        what = blamed if blamed.startswith("--") else f"{blamed}: {field}"  # a flag names its field itself
        raise ConfigError(f"{what}: {message}", field=field) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), dict(value))
        else:
            merged[key] = value
    return merged


def _preset(algo: Literal["ppo", "reinforce"], name: str) -> Layer:
    presets = PPO_PRESETS if algo == "ppo" else REINFORCE_PRESETS
    if name not in presets:
        raise ConfigError(f"preset is {name!r}; expected one of {', '.join(presets)}", field="preset")
    return f"{algo} preset {name!r}", presets[name]


def preset_for_env(presets: Mapping[str, Mapping[str, Any]], env_id: str | None) -> str:
    """The name of the first preset in ``presets`` made for ``env_id`` (its ``env_id`` key), else ``"default"``:
    ``typedrl ppo --env Pendulum-v1`` starts from the ``pendulum`` preset, as rl-baselines3-zoo picks its
    hyperparameters by environment."""
    if env_id is not None:
        for name, values in presets.items():
            if values.get("env_id") == env_id:
                return name
    return "default"


def ppo_preset(name: str = "default", **overrides: Any) -> PPOConfig:
    """The PPO preset ``name`` (a key of :data:`PPO_PRESETS`: ``default``, ``sb3-zoo``, ``acrobot``, ``pendulum``,
    ``lunarlander``, ``halfcheetah``, ``torchlean``, ``tensor-cartpole``) with ``overrides`` applied.

    Raises:
        ConfigError: an unknown preset, or an invalid override (``ppo_preset overrides: FIELD: ...``).
    """
    return build(PPOConfig, [_preset("ppo", name), ("ppo_preset overrides", overrides)])


def reinforce_preset(name: str = "default", **overrides: Any) -> ReinforceConfig:
    """The REINFORCE preset ``name`` (``default``) with ``overrides`` applied.

    Raises:
        ConfigError: an unknown preset, or an invalid override (``reinforce_preset overrides: FIELD: ...``).
    """
    return build(ReinforceConfig, [_preset("reinforce", name), ("reinforce_preset overrides", overrides)])


CONFIG_SUFFIXES = (".json", ".toml", ".yaml", ".yml")
"""The config file formats, by suffix (case does not matter)."""


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON (``.json``), TOML (``.toml``) or YAML (``.yaml``, ``.yml``) config file into a dict.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 text, has another suffix, does not parse, or does not
            hold a table of fields at the top.
    """
    file = Path(path)
    name = f"config file {str(file)!r}"
    suffix = file.suffix.lower()
    if suffix not in CONFIG_SUFFIXES:
        raise ConfigError(
            f"{name}: the suffix {file.suffix or '(none)'!r} names no format; expected one of "
            f"{', '.join(CONFIG_SUFFIXES)}",
            field="config",
        )
    try:
        text = file.read_text(encoding="utf-8-sig")  # a byte-order mark, as some editors write, is not an error
    except OSError as error:
        raise ConfigError(f"{name} cannot be read: {error.strerror or error}", field="config") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{name} is not UTF-8 text (byte {error.start}: {error.object[error.start : error.start + 1]!r})",
            field="config",
        ) from None
    kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "YAML")
    try:
        data: Any = _parse(kind, text)
    except (ValueError, RecursionError) as error:  # the parsers' errors, and ints past Python's digit limit
        detail = " ".join(str(error).split())
        raise ConfigError(f"{name} is not valid {kind}: {detail}", field="config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name} holds a {type(data).__name__}; expected a table of fields", field="config")
    _check_finite_numbers(data, name)
    return data


def _parse(kind: str, text: str) -> Any:
    if kind == "JSON":
        return json.loads(text)
    if kind == "TOML":
        return tomllib.loads(text)
    import yaml

    try:
        # Aliases can make a structure refer to itself or grow exponentially ("billion laughs"); a config needs none.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = "" if event.start_mark is None else f" at line {event.start_mark.line + 1}"
                raise ValueError(f"an alias (*{event.anchor}){line}: config files take no anchors or aliases")
        return yaml.safe_load(text)
    except yaml.YAMLError as error:  # not a ValueError
        raise ValueError(" ".join(str(error).split())) from None


def _check_finite_numbers(data: Any, where: str, field: str = "") -> None:
    """JSON's NaN/Infinity extensions, TOML's nan/inf and YAML's .nan/.inf are refused with the field named."""
    if isinstance(data, dict):
        for key, value in data.items():
            _check_finite_numbers(value, where, f"{field}.{key}" if field else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _check_finite_numbers(value, where, f"{field}[{index}]")
    elif isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(f"{where}: {field}: Input should be a finite number (got {data!r})", field=field)


def config_class(algo: object) -> type[AlgoConfig]:
    """The config class of the registered algorithm ``algo`` (``"ppo"`` → :class:`PPOConfig`).

    Raises:
        ConfigError: no algorithm is registered under ``algo`` (the message lists those that are).
    """
    from typedrl.algos import algorithm_spec  # the registry; imported here, as the algorithms import this module

    return algorithm_spec(algo).config


def load_config(path: str | os.PathLike[str], *, algo: str | None = None) -> AlgoConfig:
    """Load a JSON, TOML or YAML config file; its ``algo`` key (or the ``algo`` argument) picks the config class
    among the registered algorithms (``ppo`` when neither says).

    Raises:
        ConfigError: as :func:`read_config_file`, an unknown ``algo``, or an invalid value (named with the file).
    """
    data = read_config_file(path)
    chosen = algo or data.get("algo", "ppo")
    where = f"config file {str(path)!r}"
    try:
        model = config_class(chosen)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}", field="algo") from None
    return build(model, [(where, data)])

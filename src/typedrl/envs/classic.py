"""Gymnasium's five classic-control tasks as batched torch simulations: ``N`` environments stepped at once, as
tensors on the CPU or a GPU, behind Gymnasium's vector-env interface.

- :class:`CartPoleTensorEnv`: ``CartPole-v1``, state 4, observation 4, ``Discrete(2)``;
- :class:`AcrobotTensorEnv`: ``Acrobot-v1``, state 4, observation 6, ``Discrete(3)``;
- :class:`MountainCarTensorEnv`: ``MountainCar-v0``, state 2, observation 2, ``Discrete(3)``;
- :class:`ContinuousMountainCarTensorEnv`: ``MountainCarContinuous-v0``, state 2, observation 2, ``Box(-1, 1, (1,))``;
- :class:`PendulumTensorEnv`: ``Pendulum-v1``, state 2, observation 3, ``Box(-2, 2, (1,))``.

Each follows Gymnasium 1.4's own source (``gymnasium/envs/classic_control/``) operation for operation: the
equations of motion and their integrator, the termination test, the reward, the reset distribution, and the
``TimeLimit`` of the registration (``max_episode_steps``). ``reset`` returns ``(observations, {})`` and ``step``
``(observations, rewards, terminated, truncated, info)``: observations float32 ``[N, *obs]``, rewards float32
``[N]``, flags bool ``[N]``, all on ``device``.

**Precision.** Gymnasium simulates in float64 (numpy on Python floats), except that it rounds Acrobot's reset state
to float32 (these envs do too) and stores MountainCarContinuous's state in float32 after every step. These envs
simulate in ``dtype``: float32 (the default) or float64. Measured against Gymnasium from the same states with the
same actions (``tests/test_tensor_envs.py``): in float64 the states agree to about ``1e-15`` over episodes of 20 to
30 steps (torch's ``sin`` and ``cos`` sometimes differ from numpy's in the last bit) and Acrobot, which is chaotic,
to ``4e-10`` over a whole 500-step episode; MountainCarContinuous to ``4e-7``, Gymnasium's float32 rounding. In
float32 they agree to about ``1e-6`` over 20 to 30 steps (Pendulum ``1e-5``), but over whole episodes the chaotic
Acrobot and the swinging Pendulum leave Gymnasium's trajectories: the same dynamics, not the same numbers.
Observations and rewards are float32 in every case.

**What differs from Gymnasium.**

- The random numbers: the reset distributions are Gymnasium's, but the numbers come from one ``torch.Generator``
  for the whole batch (on ``device``), not from numpy's generators, one per sub-environment.
- ``info`` holds no per-environment entries (Gymnasium's are empty for these tasks); in ``SAME_STEP`` it holds
  ``final_obs`` and ``_final_obs`` as tensors on every step (an all-false mask when nothing finished) and no
  ``final_info`` / ``_final_info`` (see :class:`TensorVectorEnv`).
- Nothing on the per-step path waits for a GPU: an action outside the action space is not detected (the
  environment contract checks actions), and in ``DISABLED`` mode stepping a finished sub-environment without
  resetting it carries on its dynamics (Gymnasium's ``SyncVectorEnv`` asserts).
- ``options["reset_mask"]`` may be a bool tensor as well as a numpy array, and an all-false mask resets nothing
  (Gymnasium raises).

**Randomness.** ``reset(seed=s)`` seeds the generator, so the same seed, device, mode and actions repeat exactly;
``reset()`` without a seed continues it. Resetting rows draws one ``[N, k]`` batch of uniform numbers, and each row
reset takes its own row of the batch. A step draws one batch: in ``NEXT_STEP`` and ``SAME_STEP`` for the rows it
resets, in ``DISABLED`` for the first ``reset(options={"reset_mask": ...})`` after it (a second masked reset before
the next step draws a batch of its own). On the CPU a step draws only when some row uses it; on a GPU it draws every
time, so as not to read the done flags back to the host. Hence ``SAME_STEP``, and ``DISABLED`` with the finished
rows reset after each step (as typedrl's collector does), give the same transitions for the same seed; ``NEXT_STEP``
gives the same first episodes, and then different (equally distributed) initial states, as its resets come a step
later.

Sources: Gymnasium 1.4 ``gymnasium/envs/classic_control/{cartpole,acrobot,mountain_car,continuous_mountain_car,
pendulum}.py``; Barto, Sutton & Anderson 1983 (cart-pole); Sutton 1996 (acrobot); Moore 1990 (mountain car).
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch
from gymnasium import spaces
from gymnasium.envs.classic_control import utils as gym_utils
from gymnasium.envs.registration import EnvSpec
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from jaxtyping import Bool, Float, Int
from torch import Tensor

from typedrl import _validate
from typedrl._validate import article, describe
from typedrl.errors import ConfigError, HyperparameterError, InputError

__all__ = [
    "TENSOR_ENVS",
    "AcrobotTensorEnv",
    "CartPoleTensorEnv",
    "ContinuousMountainCarTensorEnv",
    "MountainCarTensorEnv",
    "PendulumTensorEnv",
    "TensorVectorEnv",
    "make_tensor_env",
]

_DTYPES = (torch.float32, torch.float64)


def _describe(value: object) -> str:
    """A value of the wrong kind as a message names it; a tensor by its dtype and shape."""
    if isinstance(value, Tensor):
        return f"{article(str(value.dtype).removeprefix('torch.'))} tensor of shape {tuple(value.shape)}"
    return describe(value)


def _autoreset_mode(where: str, value: object) -> AutoresetMode:
    """``value`` (an :class:`AutoresetMode` or its string value, e.g. ``"SameStep"``) as an AutoresetMode."""
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        for mode in AutoresetMode:
            if value == mode.value:
                return mode
    known = ", ".join(f"AutoresetMode.{mode.name} ({mode.value!r})" for mode in AutoresetMode)
    raise HyperparameterError(f"{where}: autoreset_mode is {describe(value)}; expected one of {known}")


class TensorVectorEnv(VectorEnv[Tensor, Tensor, Tensor], ABC):
    """``num_envs`` copies of one classic-control task, simulated together as tensors on ``device``.

    Attributes:
        num_envs: ``N``, the number of sub-environments.
        device: where every tensor lives.
        dtype: the dtype of the simulated state (``torch.float32`` or ``torch.float64``); observations and rewards
            are float32 whatever it is.
        max_episode_steps: the time limit: a sub-environment is ``truncated`` on its ``max_episode_steps``-th step
            since its reset, as Gymnasium's ``TimeLimit`` (a step can be both terminated and truncated).
        autoreset_mode: how finished sub-environments are reset (also ``metadata["autoreset_mode"]``):

            - ``NEXT_STEP`` (the default): the step **after** a sub-environment finishes resets it: that step
              returns its reset observation, reward 0, ``terminated`` and ``truncated`` false, and ignores its action.
            - ``SAME_STEP``: the step in which a sub-environment finishes resets it and returns the reset
              observation; ``info["final_obs"]`` (float32 ``[N, *obs]``) holds the final observations in the
              finished rows and zeros elsewhere, and ``info["_final_obs"]`` (bool ``[N]``) marks those rows.
              Unlike Gymnasium, the two keys are there on every step (with an all-false mask when nothing
              finished), and ``info["final_info"]`` / ``info["_final_info"]`` are left out (Gymnasium's per-step
              infos of these tasks are empty).
            - ``DISABLED``: nothing is reset automatically; the caller resets finished rows with
              ``reset(options={"reset_mask": mask})``.
        state: the simulated state, ``[N, state_size]`` in ``dtype``; assigning a tensor or an array of that shape
            replaces it (converted to ``dtype`` and ``device``), e.g. to put sub-environments in chosen states.
            Each step replaces the tensor (it is not changed in place).
        elapsed_steps: int64 ``[N]``, the steps each sub-environment has taken since its reset.
        single_observation_space, single_action_space: Gymnasium's spaces for the task (equal, ``==``, to
            ``gymnasium.make(env_id)``'s); ``observation_space`` and ``action_space`` are them batched with
            ``gymnasium.vector.utils.batch_space``.
        spec: an ``EnvSpec`` with the registered id (so ``repr`` and error messages name the task) and this class
            as its ``vector_entry_point``.

    Raises:
        HyperparameterError: from the constructor, for ``num_envs`` not an int >= 1, a ``device`` torch cannot
            use, a ``dtype`` other than float32 or float64, an unknown ``autoreset_mode`` or ``max_episode_steps``
            not an int >= 1 (or ``None``, for the registration's limit).
    """

    env_id: ClassVar[str]
    """The Gymnasium id of the task, e.g. ``"CartPole-v1"``."""
    default_max_episode_steps: ClassVar[int]
    """The time limit of the Gymnasium registration."""
    state_size: ClassVar[int]
    """The length of one sub-environment's state."""
    _random_size: ClassVar[int]
    """How many uniform numbers one reset of one sub-environment uses."""
    _discrete: ClassVar[bool]
    """Whether the actions are ``Discrete`` (else a ``Box`` of shape ``(1,)``)."""

    single_observation_space: spaces.Box
    single_action_space: spaces.Discrete | spaces.Box
    observation_space: spaces.Box
    action_space: spaces.MultiDiscrete | spaces.Box

    def __init__(
        self,
        num_envs: int,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
    ) -> None:
        where = type(self).__name__
        self.num_envs = _validate.integer(where, "num_envs", num_envs, error=HyperparameterError, minimum=1)
        self.device = _validate.device(where, device, error=HyperparameterError)
        if not isinstance(dtype, torch.dtype) or dtype not in _DTYPES:
            raise HyperparameterError(f"{where}: dtype is {describe(dtype)}; expected torch.float32 or torch.float64")
        self.dtype = dtype
        self.autoreset_mode = _autoreset_mode(where, autoreset_mode)
        self.max_episode_steps = (
            self.default_max_episode_steps
            if max_episode_steps is None
            else _validate.integer(where, "max_episode_steps", max_episode_steps, error=HyperparameterError, minimum=1)
        )
        self.metadata = {"autoreset_mode": self.autoreset_mode, "render_modes": []}
        self.spec = EnvSpec(
            id=self.env_id,
            entry_point=None,
            vector_entry_point=f"{__name__}:{type(self).__name__}",
            max_episode_steps=self.max_episode_steps,
            kwargs={"device": str(self.device), "dtype": dtype, "autoreset_mode": self.autoreset_mode},
        )
        self.single_observation_space = self._observation_space()
        self.single_action_space = self._action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)  # type: ignore[assignment]
        self.action_space = batch_space(self.single_action_space, self.num_envs)  # type: ignore[assignment]

        self._generator = torch.Generator(device=self.device)
        self._generator.seed()  # a fresh random seed until reset(seed=...)
        # On the CPU, reading a flag is free: draw random numbers only in the steps that reset a row.
        self._lazy_draws = self.device.type == "cpu"
        self._state = torch.zeros(self.num_envs, self.state_size, dtype=dtype, device=self.device)
        self.elapsed_steps: Int[Tensor, " N"] = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._autoreset = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._pending: Tensor | None = None  # DISABLED: the batch of the last step, not yet used by a reset
        self._needs_reset = True
        self._prepare()

    # -- the task: each subclass ------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Make the task's constant tensors on ``device`` in ``dtype`` (called at the end of ``__init__``)."""

    @abstractmethod
    def _observation_space(self) -> spaces.Box:
        """Gymnasium's observation space for one sub-environment."""

    @abstractmethod
    def _action_space(self) -> spaces.Discrete | spaces.Box:
        """Gymnasium's action space for one sub-environment."""

    @abstractmethod
    def _reset_bounds(self, options: Mapping[str, Any] | None) -> tuple[float, float]:
        """The two numbers the reset distribution takes from ``options`` (Gymnasium's option keys and defaults)."""

    @abstractmethod
    def _initial_states(self, uniform: Float[Tensor, " N k"], bounds: tuple[float, float]) -> Float[Tensor, " N state"]:
        """Initial states from uniform numbers in ``[0, 1)``, for the bounds :meth:`_reset_bounds` gave."""

    @abstractmethod
    def _transition(
        self, state: Float[Tensor, " N state"], actions: Tensor
    ) -> tuple[Float[Tensor, " N state"], Float[Tensor, " N"], Bool[Tensor, " N"]]:
        """One step of every row: the next states, the rewards (float32) and the termination flags."""

    @abstractmethod
    def _observe(self, state: Float[Tensor, " N state"]) -> Float[Tensor, " N obs"]:
        """The float32 observations of ``state``, a new tensor (never a view of the state)."""

    # -- the vector-env interface ----------------------------------------------------------------------------

    @property
    def state(self) -> Float[Tensor, " N state"]:
        """The simulated state, ``[N, state_size]`` in ``dtype`` on ``device``."""
        return self._state

    @state.setter
    def state(self, value: Tensor | npt.NDArray[Any]) -> None:
        tensor = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if tuple(tensor.shape) != (self.num_envs, self.state_size):
            raise InputError(
                f"{type(self).__name__}.state: the new state is {_describe(value)}; expected shape"
                f" ({self.num_envs}, {self.state_size})"
            )
        self._state = tensor.clone()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Float[Tensor, " N obs"], dict[str, Any]]:
        """Reset every sub-environment, or those in ``options["reset_mask"]``; return all observations and ``{}``.

        Args:
            seed: seeds the generator (an int in ``[0, 2**64)``); ``None`` continues it.
            options: ``"reset_mask"``: a bool numpy array or tensor ``[N]``: reset only those rows (the others keep
                their state, step count and pending autoreset); an all-false mask resets nothing (Gymnasium
                raises). Other keys are the task's own reset options, as Gymnasium's env takes them (``"low"``
                and ``"high"``; Pendulum ``"x_init"`` and ``"y_init"``), for this reset only; unknown keys are
                ignored, as Gymnasium does. The dict is not changed.

        Returns:
            The observations of all ``N`` sub-environments, float32 ``[N, *obs]``, and an empty info dict.

        Raises:
            HyperparameterError: ``seed`` is not an int in ``[0, 2**64)``.
            InputError: ``reset_mask`` is not a bool array or tensor of shape ``[N]``.
            ResetNeeded: a ``reset_mask`` before the first full reset.
            ValueError: a reset option Gymnasium rejects (from ``gymnasium.envs.classic_control.utils``).
        """
        where = f"{type(self).__name__}.reset"
        if seed is not None:
            seed = _validate.integer(where, "seed", seed, error=HyperparameterError, maximum=2**64 - 1)
        rest = dict(options) if options else {}
        mask = rest.pop("reset_mask", None)
        rows = None if mask is None else self._reset_mask(where, mask)
        if rows is not None and self._needs_reset:
            raise ResetNeeded(f"{where}: options['reset_mask'] needs a full reset() first")
        bounds = self._reset_bounds(rest or None)
        if seed is not None:
            self._generator.manual_seed(seed)
            self._pending = None
        if rows is None:
            self._state = self._initial_states(self._draw(), bounds)
            self.elapsed_steps = torch.zeros_like(self.elapsed_steps)
            self._autoreset = torch.zeros_like(self._autoreset)
            self._pending = None
            self._needs_reset = False
        elif self._any(rows):
            uniform = self._draw() if self._pending is None else self._pending
            self._pending = None
            self._state = torch.where(rows[:, None], self._initial_states(uniform, bounds), self._state)
            self.elapsed_steps = self.elapsed_steps.masked_fill(rows, 0)
            self._autoreset = self._autoreset & ~rows
        return self._observe(self._state), {}

    def step(
        self, actions: Tensor | npt.NDArray[Any]
    ) -> tuple[Float[Tensor, " N obs"], Float[Tensor, " N"], Bool[Tensor, " N"], Bool[Tensor, " N"], dict[str, Any]]:
        """Step every sub-environment once.

        Args:
            actions: ``[N]`` integers for a ``Discrete`` task (any integer dtype), ``[N, 1]`` numbers for a ``Box``
                one; a tensor or a numpy array, moved to ``device``. Only the shape and the kind of dtype are
                checked: values outside the space are used as they are (a ``Box`` task clips them as Gymnasium
                does; a ``Discrete`` one treats them as its arithmetic does).

        Returns:
            ``(observations, rewards, terminated, truncated, info)``: float32 ``[N, *obs]``, float32 ``[N]``, bool
            ``[N]``, bool ``[N]``, and ``info`` (``{}``; in ``SAME_STEP`` the final observations, see the class).

        Raises:
            ResetNeeded: before the first ``reset()``.
            InputError: ``actions`` of the wrong shape or kind of dtype.
        """
        if self._needs_reset:
            raise ResetNeeded(f"{type(self).__name__}.step: called before reset(); call reset() first")
        actions = self._as_actions(actions)
        state, rewards, terminated = self._transition(self._state, actions)
        elapsed = self.elapsed_steps + 1
        truncated = elapsed >= self.max_episode_steps
        info: dict[str, Any] = {}
        mode = self.autoreset_mode
        if mode is AutoresetMode.NEXT_STEP:
            resetting = self._autoreset
            if self._any(resetting):
                state = torch.where(resetting[:, None], self._default_initial_states(), state)
                elapsed = elapsed.masked_fill(resetting, 0)
                rewards = rewards.masked_fill(resetting, 0.0)
                terminated = terminated.masked_fill(resetting, False)
                truncated = truncated.masked_fill(resetting, False)
            self._autoreset = terminated | truncated
            observations = self._observe(state)
        elif mode is AutoresetMode.SAME_STEP:
            done = terminated | truncated
            final = self._observe(state)
            observations = final
            if self._any(done):
                state = torch.where(done[:, None], self._default_initial_states(), state)
                elapsed = elapsed.masked_fill(done, 0)
                observations = self._observe(state)
            info = {"final_obs": torch.where(done[:, None], final, 0.0), "_final_obs": done}
        else:
            self._pending = None if self._lazy_draws else self._draw()
            observations = self._observe(state)
        self._state = state
        self.elapsed_steps = elapsed
        return observations, rewards, terminated, truncated, info

    # -- helpers ---------------------------------------------------------------------------------------------

    def _any(self, rows: Bool[Tensor, " N"]) -> bool:
        """Whether ``rows`` may hold a true element: read on the CPU, assumed on a GPU (no sync)."""
        return bool(rows.any()) if self._lazy_draws else True

    def _draw(self) -> Float[Tensor, " N k"]:
        """One batch of uniform numbers in ``[0, 1)``, a row per sub-environment."""
        return torch.rand(
            (self.num_envs, self._random_size), generator=self._generator, device=self.device, dtype=self.dtype
        )

    def _default_initial_states(self) -> Float[Tensor, " N state"]:
        """Initial states for the automatic resets (Gymnasium's default reset options)."""
        return self._initial_states(self._draw(), self._reset_bounds(None))

    def _reset_mask(self, where: str, mask: object) -> Bool[Tensor, " N"]:
        """``options["reset_mask"]`` as a bool tensor on ``device``; else InputError."""
        if isinstance(mask, np.ndarray):
            good = mask.dtype == np.bool_ and mask.shape == (self.num_envs,)
        elif isinstance(mask, Tensor):
            good = mask.dtype == torch.bool and tuple(mask.shape) == (self.num_envs,)
        else:
            good = False
        if not good:
            raise InputError(
                f"{where}: options['reset_mask'] is {_describe(mask)}; expected a bool numpy array or tensor of"
                f" shape ({self.num_envs},)"
            )
        return torch.as_tensor(mask, device=self.device)

    def _as_actions(self, actions: Tensor | npt.NDArray[Any]) -> Tensor:
        """``actions`` as a tensor on ``device``, its shape and kind of dtype checked (no values: no sync)."""
        tensor = torch.as_tensor(actions, device=self.device)
        if self._discrete:
            shape: tuple[int, ...] = (self.num_envs,)
            good = tensor.dtype != torch.bool and not tensor.is_floating_point() and not tensor.is_complex()
            kind = "integer"
        else:
            shape = (self.num_envs, 1)
            good = tensor.dtype != torch.bool and not tensor.is_complex()
            kind = "real"
        if not good or tuple(tensor.shape) != shape:
            raise InputError(
                f"{type(self).__name__}.step: actions is {_describe(actions)}; expected {article(kind)} tensor or"
                f" array of shape {shape}"
            )
        return tensor

    def _constant(self, value: float) -> Tensor:
        """A 0-d tensor of ``dtype`` on ``device``, made once (so ``torch.where`` keeps the dtype)."""
        return torch.tensor(value, dtype=self.dtype, device=self.device)


# -- CartPole-v1 -------------------------------------------------------------------------------------------------

_GRAVITY = 9.8
_MASSCART = 1.0
_MASSPOLE = 0.1
_TOTAL_MASS = _MASSPOLE + _MASSCART
_LENGTH = 0.5  # half the pole's length
_POLEMASS_LENGTH = _MASSPOLE * _LENGTH
_FORCE_MAG = 10.0
_TAU = 0.02  # seconds per step
_THETA_THRESHOLD = 12 * 2 * math.pi / 360  # 12 degrees
_X_THRESHOLD = 2.4


class CartPoleTensorEnv(TensorVectorEnv):
    """``CartPole-v1``: a pole hinged on a cart; push the cart left (0) or right (1) to keep the pole upright.

    State ``(x, ẋ, θ, θ̇)`` (m, m/s, rad, rad/s); the observation is the state in float32. With force
    ``F = ±10`` N, masses ``m_c = 1``, ``m_p = 0.1`` (``M = 1.1``), half-length ``l = 0.5``, ``g = 9.8``,
    ``τ = 0.02`` s (Gymnasium's ``"euler"`` integrator, positions updated with the old velocities)::

        temp = (F + m_p·l·θ̇²·sin θ) / M
        θ̈ = (g·sin θ − cos θ·temp) / (l·(4/3 − m_p·cos²θ / M))
        ẍ = temp − m_p·l·θ̈·cos θ / M
        x ← x + τ·ẋ,  ẋ ← ẋ + τ·ẍ,  θ ← θ + τ·θ̇,  θ̇ ← θ̇ + τ·θ̈

    Reward 1 on every step, the terminating one included. Terminated when ``|x| > 2.4`` or ``|θ| > 12°``;
    truncated after 500 steps. Reset: every state variable uniform in ``[−0.05, 0.05)`` (options ``"low"``,
    ``"high"``). Any action other than 1 pushes left, as Gymnasium's ``action == 1`` test does.

    Source: Gymnasium ``classic_control/cartpole.py``; Barto, Sutton & Anderson 1983, "Neuronlike adaptive elements
    that can solve difficult learning control problems".
    """

    env_id = "CartPole-v1"
    default_max_episode_steps = 500
    state_size = 4
    _random_size = 4
    _discrete = True

    def _prepare(self) -> None:
        self._force_right = self._constant(_FORCE_MAG)
        self._force_left = self._constant(-_FORCE_MAG)

    def _observation_space(self) -> spaces.Box:
        high = np.array([_X_THRESHOLD * 2, np.inf, _THETA_THRESHOLD * 2, np.inf], dtype=np.float32)
        return spaces.Box(-high, high, dtype=np.float32)

    def _action_space(self) -> spaces.Discrete:
        return spaces.Discrete(2)

    def _reset_bounds(self, options: Mapping[str, Any] | None) -> tuple[float, float]:
        return gym_utils.maybe_parse_reset_bounds(dict(options) if options else None, -0.05, 0.05)

    def _initial_states(self, uniform: Tensor, bounds: tuple[float, float]) -> Tensor:
        low, high = bounds
        return low + (high - low) * uniform

    def _transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x, x_dot, theta, theta_dot = state.unbind(1)
        force = torch.where(actions == 1, self._force_right, self._force_left)
        costheta, sintheta = theta.cos(), theta.sin()
        temp = (force + _POLEMASS_LENGTH * theta_dot.square() * sintheta) / _TOTAL_MASS
        thetaacc = (_GRAVITY * sintheta - costheta * temp) / (
            _LENGTH * (4.0 / 3.0 - _MASSPOLE * costheta.square() / _TOTAL_MASS)
        )
        xacc = temp - _POLEMASS_LENGTH * thetaacc * costheta / _TOTAL_MASS
        x = x + _TAU * x_dot
        theta = theta + _TAU * theta_dot
        next_state = torch.stack((x, x_dot + _TAU * xacc, theta, theta_dot + _TAU * thetaacc), dim=1)
        terminated = (x.abs() > _X_THRESHOLD) | (theta.abs() > _THETA_THRESHOLD)
        rewards = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        return next_state, rewards, terminated

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32, copy=True)


# -- Acrobot-v1 --------------------------------------------------------------------------------------------------

_ACROBOT_DT = 0.2  # seconds per step (one rk4 step)
_LINK_LENGTH_1 = 1.0
_LINK_MASS_1 = 1.0
_LINK_MASS_2 = 1.0
_LINK_COM_POS_1 = 0.5
_LINK_COM_POS_2 = 0.5
_LINK_MOI = 1.0
_MAX_VEL_1 = 4 * math.pi
_MAX_VEL_2 = 9 * math.pi
_ACROBOT_G = 9.8


def _acrobot_derivatives(state: Tensor, torque: Tensor) -> Tensor:
    """``(θ̇₁, θ̇₂, θ̈₁, θ̈₂)`` of the acrobot ``[N, 4]`` under ``torque`` ``[N]`` (Gymnasium's ``_dsdt``, "book")."""
    m1, m2, l1 = _LINK_MASS_1, _LINK_MASS_2, _LINK_LENGTH_1
    lc1, lc2, i1, i2, g = _LINK_COM_POS_1, _LINK_COM_POS_2, _LINK_MOI, _LINK_MOI, _ACROBOT_G
    theta1, theta2, dtheta1, dtheta2 = state.unbind(1)
    cos2, sin2 = theta2.cos(), theta2.sin()
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + i2
    phi2 = m2 * lc2 * g * (theta1 + theta2 - math.pi / 2.0).cos()
    phi1 = (
        -m2 * l1 * lc2 * dtheta2.square() * sin2
        - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        + (m1 * lc1 + m2 * l1) * g * (theta1 - math.pi / 2).cos()
        + phi2
    )
    ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1.square() * sin2 - phi2) / (
        m2 * lc2**2 + i2 - d2.square() / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), dim=1)


class AcrobotTensorEnv(TensorVectorEnv):
    """``Acrobot-v1``: two links hanging from a fixed joint; a torque of −1 (0), 0 (1) or +1 (2) N·m at the
    middle joint must swing the free end above a line one link-length over the fixed joint.

    State ``(θ₁, θ₂, θ̇₁, θ̇₂)`` (rad, rad/s; ``θ₁`` from straight down, ``θ₂`` relative to link 1); the
    observation is ``(cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂)`` in float32. Links of mass 1, length 1, centre of
    mass at 0.5 and moment of inertia 1, ``g = 9.8``; Sutton & Barto's "book" equations::

        d₁ = m₁l꜀₁² + m₂(l₁² + l꜀₂² + 2l₁l꜀₂cos θ₂) + I₁ + I₂,   d₂ = m₂(l꜀₂² + l₁l꜀₂cos θ₂) + I₂
        φ₂ = m₂l꜀₂g·cos(θ₁ + θ₂ − π/2)
        φ₁ = −m₂l₁l꜀₂θ̇₂²sin θ₂ − 2m₂l₁l꜀₂θ̇₂θ̇₁sin θ₂ + (m₁l꜀₁ + m₂l₁)g·cos(θ₁ − π/2) + φ₂
        θ̈₂ = (a + d₂/d₁·φ₁ − m₂l₁l꜀₂θ̇₁²sin θ₂ − φ₂) / (m₂l꜀₂² + I₂ − d₂²/d₁),   θ̈₁ = −(d₂θ̈₂ + φ₁)/d₁

    integrated with one classical Runge-Kutta (rk4) step of 0.2 s; then the angles are wrapped into ``[−π, π]``
    and the velocities clipped to ``|θ̇₁| ≤ 4π``, ``|θ̇₂| ≤ 9π``. Terminated when ``−cos θ₁ − cos(θ₁ + θ₂) > 1``;
    reward −1 on every step that does not terminate, 0 on the one that does; truncated after 500 steps. Reset: each
    state variable uniform in ``[−0.1, 0.1)`` (options ``"low"``, ``"high"``), rounded to float32 as Gymnasium does.
    The action's torque is ``action − 1``.

    Source: Gymnasium ``classic_control/acrobot.py``; Sutton 1996, "Generalization in reinforcement learning:
    successful examples using sparse coarse coding"; Sutton & Barto 1998.
    """

    env_id = "Acrobot-v1"
    default_max_episode_steps = 500
    state_size = 4
    _random_size = 4
    _discrete = True

    def _prepare(self) -> None:
        self._max_velocity = torch.tensor([_MAX_VEL_1, _MAX_VEL_2], dtype=self.dtype, device=self.device)

    def _observation_space(self) -> spaces.Box:
        high = np.array([1.0, 1.0, 1.0, 1.0, _MAX_VEL_1, _MAX_VEL_2], dtype=np.float32)
        return spaces.Box(low=-high, high=high, dtype=np.float32)

    def _action_space(self) -> spaces.Discrete:
        return spaces.Discrete(3)

    def _reset_bounds(self, options: Mapping[str, Any] | None) -> tuple[float, float]:
        return gym_utils.maybe_parse_reset_bounds(dict(options) if options else None, -0.1, 0.1)

    def _initial_states(self, uniform: Tensor, bounds: tuple[float, float]) -> Tensor:
        low, high = bounds
        return (low + (high - low) * uniform).to(torch.float32).to(self.dtype)

    def _transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        torque = actions.to(self.dtype) - 1.0  # in dtype first: an unsigned action must not wrap around
        # rk4 over [0, dt], as Gymnasium's rk4(): y + dt/6·(k₁ + 2k₂ + 2k₃ + k₄).
        k1 = _acrobot_derivatives(state, torque)
        k2 = _acrobot_derivatives(state + _ACROBOT_DT / 2.0 * k1, torque)
        k3 = _acrobot_derivatives(state + _ACROBOT_DT / 2.0 * k2, torque)
        k4 = _acrobot_derivatives(state + _ACROBOT_DT * k3, torque)
        integrated = state + _ACROBOT_DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        angles, velocities = integrated[:, :2], integrated[:, 2:]
        # Gymnasium's wrap(): subtract (add) 2π while above π (below −π); the count is ceil(excess / 2π).
        turn = 2 * math.pi
        turns = ((angles - math.pi) / turn).ceil().clamp_min(0) - ((-math.pi - angles) / turn).ceil().clamp_min(0)
        angles = angles - turn * turns
        velocities = torch.clamp(velocities, -self._max_velocity, self._max_velocity)
        next_state = torch.cat((angles, velocities), dim=1)
        theta1, theta2 = angles.unbind(1)
        terminated = -theta1.cos() - (theta2 + theta1).cos() > 1.0
        rewards = terminated.to(torch.float32) - 1.0
        return next_state, rewards, terminated

    def _observe(self, state: Tensor) -> Tensor:
        angles = state[:, :2]
        trig = torch.stack((angles.cos(), angles.sin()), dim=2).flatten(1)  # cos θ₁, sin θ₁, cos θ₂, sin θ₂
        return torch.cat((trig, state[:, 2:]), dim=1).to(torch.float32)


# -- MountainCar-v0 and MountainCarContinuous-v0 ------------------------------------------------------------------

_MIN_POSITION = -1.2
_MAX_POSITION = 0.6
_MAX_SPEED = 0.07
_HILL_GRAVITY = 0.0025


class _MountainCar(TensorVectorEnv):
    """What the two mountain-car tasks share: the track, the spaces and the reset distribution."""

    state_size = 2
    _random_size = 1

    def _observation_space(self) -> spaces.Box:
        low = np.array([_MIN_POSITION, -_MAX_SPEED], dtype=np.float32)
        high = np.array([_MAX_POSITION, _MAX_SPEED], dtype=np.float32)
        return spaces.Box(low, high, dtype=np.float32)

    def _reset_bounds(self, options: Mapping[str, Any] | None) -> tuple[float, float]:
        return gym_utils.maybe_parse_reset_bounds(dict(options) if options else None, -0.6, -0.4)

    def _initial_states(self, uniform: Tensor, bounds: tuple[float, float]) -> Tensor:
        low, high = bounds
        position = low + (high - low) * uniform
        return torch.cat((position, torch.zeros_like(position)), dim=1)

    def _move(self, position: Tensor, velocity: Tensor, acceleration: Tensor) -> tuple[Tensor, Tensor]:
        """The shared update: ``v ← clip(v + a, ±0.07)``, ``x ← clip(x + v, [−1.2, 0.6])``, and ``v ← 0`` when the
        car is stopped by the left wall moving left."""
        velocity = (velocity + acceleration).clamp(-_MAX_SPEED, _MAX_SPEED)
        position = (position + velocity).clamp(_MIN_POSITION, _MAX_POSITION)
        velocity = velocity.masked_fill((position == _MIN_POSITION) & (velocity < 0), 0.0)
        return position, velocity

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32, copy=True)


class MountainCarTensorEnv(_MountainCar):
    """``MountainCar-v0``: an underpowered car in a valley must rock back and forth to reach the flag on the right
    hill; accelerate left (0), not at all (1) or right (2).

    State ``(x, v)``, the observation in float32. Each step::

        v ← clip(v + (action − 1)·0.001 − 0.0025·cos(3x), −0.07, 0.07)
        x ← clip(x + v, −1.2, 0.6);   v ← 0 if x = −1.2 and v < 0

    Reward −1 on every step; terminated when ``x ≥ 0.5`` and ``v ≥ 0``; truncated after 200 steps. Reset:
    ``x`` uniform in ``[−0.6, −0.4)`` (options ``"low"``, ``"high"``), ``v = 0``.

    Source: Gymnasium ``classic_control/mountain_car.py``; Moore 1990, "Efficient memory-based learning for robot
    control" (PhD thesis, University of Cambridge).
    """

    env_id = "MountainCar-v0"
    default_max_episode_steps = 200
    _discrete = True

    def _action_space(self) -> spaces.Discrete:
        return spaces.Discrete(3)

    def _transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state.unbind(1)
        acceleration = (actions.to(self.dtype) - 1.0) * 0.001 + (3 * position).cos() * (-_HILL_GRAVITY)
        position, velocity = self._move(position, velocity, acceleration)
        terminated = (position >= 0.5) & (velocity >= 0)
        rewards = torch.full((self.num_envs,), -1.0, dtype=torch.float32, device=self.device)
        return torch.stack((position, velocity), dim=1), rewards, terminated


class ContinuousMountainCarTensorEnv(_MountainCar):
    """``MountainCarContinuous-v0``: the mountain car with a continuous force ``a`` in ``[−1, 1]``.

    State ``(x, v)``, the observation in float32. Each step, with ``f = clip(a, −1, 1)``::

        v ← clip(v + 0.0015·f − 0.0025·cos(3x), −0.07, 0.07)
        x ← clip(x + v, −1.2, 0.6);   v ← 0 if x = −1.2 and v < 0

    Terminated when ``x ≥ 0.45`` and ``v ≥ 0``; reward ``100·[terminated] − 0.1·a²`` with the **unclipped**
    action ``a``, as Gymnasium computes it; truncated after 999 steps. Reset: ``x`` uniform in ``[−0.6, −0.4)``
    (options ``"low"``, ``"high"``), ``v = 0``. Gymnasium stores this task's state in float32 after every step,
    so ``dtype=torch.float32`` is the closer match to it.

    Source: Gymnasium ``classic_control/continuous_mountain_car.py``; Moore 1990.
    """

    env_id = "MountainCarContinuous-v0"
    default_max_episode_steps = 999
    _discrete = False

    def _action_space(self) -> spaces.Box:
        return spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)

    def _transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state.unbind(1)
        action = actions[:, 0].to(self.dtype)
        acceleration = action.clamp(-1.0, 1.0) * 0.0015 - _HILL_GRAVITY * (3 * position).cos()
        position, velocity = self._move(position, velocity, acceleration)
        terminated = (position >= 0.45) & (velocity >= 0)
        rewards = (terminated.to(self.dtype) * 100.0 - action.square() * 0.1).to(torch.float32)
        return torch.stack((position, velocity), dim=1), rewards, terminated


# -- Pendulum-v1 -------------------------------------------------------------------------------------------------

_PENDULUM_MAX_SPEED = 8.0
_PENDULUM_MAX_TORQUE = 2.0
_PENDULUM_DT = 0.05
_PENDULUM_G = 10.0
_PENDULUM_M = 1.0
_PENDULUM_L = 1.0


class PendulumTensorEnv(TensorVectorEnv):
    """``Pendulum-v1``: swing a pendulum up and hold it upright with a torque ``u`` in ``[−2, 2]`` N·m.

    State ``(θ, θ̇)`` (rad from upright, rad/s; ``θ`` is not wrapped); the observation is
    ``(cos θ, sin θ, θ̇)`` in float32. With ``u`` clipped to ``[−2, 2]``, ``g = 10``, ``m = l = 1``,
    ``dt = 0.05`` s::

        cost = norm(θ)² + 0.1·θ̇² + 0.001·u²,   norm(θ) = ((θ + π) mod 2π) − π
        θ̇ ← clip(θ̇ + (3g/(2l)·sin θ + 3/(ml²)·u)·dt, −8, 8),   θ ← θ + θ̇·dt

    Reward ``−cost`` (of the state before the step); never terminated; truncated after 200 steps. Reset: ``θ``
    uniform in ``[−π, π)``, ``θ̇`` in ``[−1, 1)`` (options ``"x_init"``, ``"y_init"`` set the two half-widths). As
    in Gymnasium, where numpy computes the terms of the action in the action's own precision, ``3/(ml²)·u`` and
    ``0.001·u²`` are computed in the dtype of ``actions`` (float32 actions: float32) and then added in ``dtype``.

    Source: Gymnasium ``classic_control/pendulum.py``.
    """

    env_id = "Pendulum-v1"
    default_max_episode_steps = 200
    state_size = 2
    _random_size = 2
    _discrete = False

    def _observation_space(self) -> spaces.Box:
        high = np.array([1.0, 1.0, _PENDULUM_MAX_SPEED], dtype=np.float32)
        return spaces.Box(low=-high, high=high, dtype=np.float32)

    def _action_space(self) -> spaces.Box:
        return spaces.Box(low=-_PENDULUM_MAX_TORQUE, high=_PENDULUM_MAX_TORQUE, shape=(1,), dtype=np.float32)

    def _reset_bounds(self, options: Mapping[str, Any] | None) -> tuple[float, float]:
        if options is None:
            return math.pi, 1.0
        x = options.get("x_init", math.pi)
        y = options.get("y_init", 1.0)
        return gym_utils.verify_number_and_cast(x), gym_utils.verify_number_and_cast(y)

    def _initial_states(self, uniform: Tensor, bounds: tuple[float, float]) -> Tensor:
        x, y = bounds
        theta = -x + (x - -x) * uniform[:, 0]
        theta_dot = -y + (y - -y) * uniform[:, 1]
        return torch.stack((theta, theta_dot), dim=1)

    def _transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        theta, theta_dot = state.unbind(1)
        u = actions[:, 0]
        if not u.is_floating_point():
            u = u.to(self.dtype)
        u = u.clamp(-_PENDULUM_MAX_TORQUE, _PENDULUM_MAX_TORQUE)
        effort = (0.001 * u.square()).to(self.dtype)
        torque = (3.0 / (_PENDULUM_M * _PENDULUM_L**2) * u).to(self.dtype)
        normalized = torch.remainder(theta + math.pi, 2 * math.pi) - math.pi
        costs = normalized.square() + 0.1 * theta_dot.square() + effort
        gravity = 3 * _PENDULUM_G / (2 * _PENDULUM_L)
        theta_dot = (theta_dot + (gravity * theta.sin() + torque) * _PENDULUM_DT).clamp(
            -_PENDULUM_MAX_SPEED, _PENDULUM_MAX_SPEED
        )
        theta = theta + theta_dot * _PENDULUM_DT
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        return torch.stack((theta, theta_dot), dim=1), (-costs).to(torch.float32), terminated

    def _observe(self, state: Tensor) -> Tensor:
        theta, theta_dot = state.unbind(1)
        return torch.stack((theta.cos(), theta.sin(), theta_dot), dim=1).to(torch.float32)


# -- the registry ------------------------------------------------------------------------------------------------

TENSOR_ENVS: dict[str, type[TensorVectorEnv]] = {
    env.env_id: env
    for env in (
        CartPoleTensorEnv,
        AcrobotTensorEnv,
        MountainCarTensorEnv,
        ContinuousMountainCarTensorEnv,
        PendulumTensorEnv,
    )
}
"""The tensor environments by their Gymnasium id."""


def make_tensor_env(
    env_id: str,
    num_envs: int,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
) -> TensorVectorEnv:
    """The tensor environment for a Gymnasium id, with the registration's time limit; call ``reset(seed=...)``
    before stepping.

    Args:
        env_id: one of :data:`TENSOR_ENVS`' keys, e.g. ``"CartPole-v1"``.
        num_envs: ``N``, the number of sub-environments.
        device: where the tensors live.
        dtype: the dtype of the simulated state, float32 or float64.
        autoreset_mode: an :class:`~gymnasium.vector.AutoresetMode` or its string value.

    Raises:
        ConfigError: ``env_id`` is not one of the tasks (``field="env_id"``).
        HyperparameterError: from the constructor, for the other arguments.
    """
    env_class = TENSOR_ENVS.get(env_id) if isinstance(env_id, str) else None
    if env_class is None:
        known = ", ".join(repr(known_id) for known_id in TENSOR_ENVS)
        raise ConfigError(
            f"make_tensor_env: env_id is {describe(env_id)}; expected one of the tensor environments: {known}",
            field="env_id",
        )
    return env_class(num_envs, device=device, dtype=dtype, autoreset_mode=autoreset_mode)

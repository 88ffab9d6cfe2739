"""The contract on environments that step in tensors: :class:`CheckedTensorVectorEnv`.

It holds a tensor vector env (:class:`~typedrl.envs.classic.TensorVectorEnv`, or any Gymnasium vector env whose
``reset`` and ``step`` take and return torch tensors) to the same :class:`~typedrl.contract.Contract` as
:class:`~typedrl.envs.CheckedVectorEnv` holds a numpy one, without leaving the device: each reset, step and action
is checked by a few fused reductions on the tensors' device and one host synchronisation (one ``bool``). Only
when that says something is wrong are the tensors copied to numpy, where the contract's own checks find the first
offending element and raise the same :class:`~typedrl.errors.ContractViolation` (naming the environment, the step,
the sub-environment, the field, expected versus got) as for a numpy environment.

What is checked, as for a numpy env: observations of the space's shape and dtype, finite and inside the space's
bounds (or the contract's ``observation_bounds``); rewards finite (and inside ``reward_range``); ``terminated`` and
``truncated`` bool ``[N]``; in ``SAME_STEP`` mode ``info["_final_obs"]`` equal to ``terminated | truncated`` and the
final observations of the done rows inside the bounds; actions of the action space's shape and dtype kind, inside
its bounds. Beyond a numpy env: every tensor must be on the env's device.
"""

from typing import Any, Unpack

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from torch import Tensor

from typedrl._validate import describe
from typedrl.contract import Contract, ContractOptions, autoreset_mode_of
from typedrl.errors import ContractViolation, InputError

__all__ = ["CheckedTensorVectorEnv"]


def _bounds(space: gym.spaces.Box, options: ContractOptions, device: torch.device) -> tuple[Tensor, Tensor]:
    """The bounds as float32 tensors on ``device``, with infinite ones replaced by float32's largest finite values
    (so that one comparison rejects NaN and ±inf alike)."""
    low, high = options.get("observation_bounds") or (space.low, space.high)
    big = np.finfo(np.float32).max
    finite = options.get("finite_observations", True)
    low_array = np.broadcast_to(np.asarray(low, dtype=np.float64), space.shape)
    high_array = np.broadcast_to(np.asarray(high, dtype=np.float64), space.shape)
    if finite:
        low_array, high_array = np.maximum(low_array, -big), np.minimum(high_array, big)
    return (
        torch.as_tensor(low_array.astype(np.float32), device=device),
        torch.as_tensor(high_array.astype(np.float32), device=device),
    )


class CheckedTensorVectorEnv(VectorWrapper):
    """Check every reset, step and action of a tensor vector env against its contract, on its device.

    Args:
        env: a vector env whose ``reset``/``step`` return tensors on ``env.device``, with a Box observation space
            and a Discrete or Box action space.
        options: the :class:`~typedrl.contract.Contract`'s options (``env_id``, ``observation_bounds``,
            ``reward_range``, ...); ``on_violation`` must be ``"raise"``.

    Raises:
        InputError: spaces other than those, or an env without a ``device``.
    """

    def __init__(self, env: VectorEnv[Any, Any, Any], **options: Unpack[ContractOptions]) -> None:
        super().__init__(env)
        device = getattr(env, "device", None)
        if not isinstance(device, torch.device):
            raise InputError(f"CheckedTensorVectorEnv: env.device is {describe(device)}; expected a torch.device")
        observation_space, action_space = env.single_observation_space, env.single_action_space
        if not isinstance(observation_space, gym.spaces.Box) or not isinstance(
            action_space, gym.spaces.Box | gym.spaces.Discrete
        ):
            raise InputError(
                f"CheckedTensorVectorEnv: spaces {observation_space} and {action_space}; expected a Box observation "
                "space and a Discrete or Box action space"
            )
        options.setdefault("env_id", type(env.unwrapped).__name__)
        if options.get("on_violation", "raise") != "raise":
            raise InputError("CheckedTensorVectorEnv: on_violation is 'warn'; tensor envs support 'raise' only")
        self.contract = Contract.for_env(env, **options)
        """The contract, whose numpy checks name the first offending element when the fast check fails."""
        # The slow path's step check without the autoreset mode: the final observations are tensors that the slow
        # path takes out of info and checks itself (_report_final), so the contract must not find them missing.
        self._fields = Contract(observation_space, action_space, num_envs=int(env.num_envs), **options)
        self.device = device
        self.env_id = self.contract.env_id
        self._n = int(env.num_envs)
        self._observation_shape = (self._n, *observation_space.shape)
        self._low, self._high = _bounds(observation_space, options, device)
        self._same_step = autoreset_mode_of(env) is AutoresetMode.SAME_STEP
        reward_range = options.get("reward_range")
        self._reward_range = (float(reward_range[0]), float(reward_range[1])) if reward_range is not None else None
        self._finite_rewards = options.get("finite_rewards", True)
        self._reject_both = options.get("reject_terminated_and_truncated", False)
        self._discrete = isinstance(action_space, gym.spaces.Discrete)
        if isinstance(action_space, gym.spaces.Discrete):
            self._action_start, self._action_stop = int(action_space.start), int(action_space.start + action_space.n)
        else:
            self._action_shape = (self._n, *action_space.shape)
            self._action_low = torch.as_tensor(np.asarray(action_space.low, dtype=np.float32), device=device)
            self._action_high = torch.as_tensor(np.asarray(action_space.high, dtype=np.float32), device=device)
        self.steps = 0
        """Steps taken so far (the number the next error message would give the step is this plus one)."""

    # Fast paths: shapes and dtypes by attribute, values by fused reductions and one bool ------------------------

    def _observation_ok(self, observation: object) -> Tensor | None:
        if (
            type(observation) is not Tensor
            or observation.shape != self._observation_shape
            or observation.dtype is not torch.float32
            or observation.device != self.device
        ):
            return None
        return ((observation >= self._low) & (observation <= self._high)).all()

    def _action_ok(self, action: object) -> bool:
        if type(action) is not Tensor or action.device != self.device:
            return False
        if self._discrete:
            if action.shape != (self._n,) or action.is_floating_point() or action.dtype is torch.bool:
                return False
            return bool(((action >= self._action_start) & (action < self._action_stop)).all())
        if action.shape != self._action_shape or not action.is_floating_point():
            return False
        return bool(((action >= self._action_low) & (action <= self._action_high)).all())

    def _flags_ok(self, flags: object) -> bool:
        return (
            type(flags) is Tensor
            and flags.dtype is torch.bool
            and flags.shape == (self._n,)
            and flags.device == self.device
        )

    def _step_ok(self, result: object) -> bool:
        if type(result) is not tuple or len(result) != 5:
            return False
        observation, reward, terminated, truncated, info = result
        observation_ok = self._observation_ok(observation)
        if (
            observation_ok is None
            or type(reward) is not Tensor
            or reward.shape != (self._n,)
            or not reward.is_floating_point()
            or reward.device != self.device
            or not self._flags_ok(terminated)
            or not self._flags_ok(truncated)
            or type(info) is not dict
        ):
            return False
        # finite_rewards=False still rejects NaN, as the contract does.
        checks = [observation_ok, (torch.isfinite(reward) if self._finite_rewards else ~torch.isnan(reward)).all()]
        if self._reject_both:
            checks.append(~(terminated & truncated).any())
        if self._reward_range is not None:
            checks.append(((reward >= self._reward_range[0]) & (reward <= self._reward_range[1])).all())
        if self._same_step:
            final, marked = info.get("final_obs"), info.get("_final_obs")
            if final is None and marked is None:
                checks.append(~(terminated | truncated).any())
            else:
                if not self._flags_ok(marked) or self._observation_ok(final) is None:
                    return False
                assert isinstance(final, Tensor)
                assert isinstance(marked, Tensor)
                done = terminated | truncated
                inside = (final >= self._low) & (final <= self._high)
                checks.append((marked == done).all())
                checks.append((inside | ~done.view(-1, *([1] * (final.dim() - 1)))).all())
        return bool(torch.stack(checks).all())

    # The wrapper -----------------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Reset (all, or the rows of ``options["reset_mask"]``) and check the result."""
        result = self.env.reset(seed=seed, options=options)
        if type(result) is tuple and len(result) == 2 and type(result[1]) is dict:
            ok = self._observation_ok(result[0])
            if ok is not None and bool(ok):
                return result
        self._report_reset(result)
        raise self._unexplained("reset", self.steps, result)

    def step(self, actions: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Check ``actions``, step, and check the result. A numpy array of actions is moved to the env's device
        first, as the tensor env itself would take it."""
        step = self.steps + 1
        if isinstance(actions, np.ndarray):
            actions = torch.as_tensor(actions, device=self.device)
        if not self._action_ok(actions):
            self._report_action(actions, step)
            raise self._unexplained("action", step, actions)
        result = self.env.step(actions)
        self.steps = step
        if not self._step_ok(result):
            self._report_step(result, step)
            raise self._unexplained("step", step, result)
        return result

    # Slow paths: the contract's numpy checks name the first offending element -----------------------------------

    def _unexplained(self, call: str, step: int, value: object) -> ContractViolation:
        """The fast check failed and the numpy checks found no element to blame (a dtype or layout they accept):
        the whole value, with what the tensor contract expects."""
        expected = {
            "reset": f"(a float32 tensor {list(self._observation_shape)} on {self.device}, a dict)",
            "action": f"a tensor of the action space's kind, [{self._n}, ...], on {self.device}",
            "step": f"tensors on {self.device}: observation float32 {list(self._observation_shape)}, reward float "
            f"[{self._n}], terminated and truncated bool [{self._n}], and a dict",
        }[call]
        field = "action" if call == "action" else "result"
        return ContractViolation(self.env_id, call, step, None, field, _layout(value), expected)

    def _tensor_problem(self, name: str, value: object, call: str, step: int, env_index: int | None = None) -> None:
        if isinstance(value, Tensor) and value.device != self.device:
            raise ContractViolation(
                self.env_id, call, step, env_index, name, f"a tensor on {value.device}", f"a tensor on {self.device}"
            )
        if not isinstance(value, Tensor):
            raise ContractViolation(self.env_id, call, step, env_index, name, describe(value), "a torch.Tensor")

    def _report_reset(self, result: object) -> None:
        if type(result) is tuple and len(result) == 2:
            self._tensor_problem("observation", result[0], "reset", self.steps)
            self.contract.check_reset((_numpy(result[0]), result[1]), step=self.steps)
            self._dtype_problem(result[0], "reset", self.steps)
        else:
            self.contract.check_reset(result, step=self.steps)

    def _dtype_problem(self, observation: object, call: str, step: int) -> None:
        if isinstance(observation, Tensor) and observation.dtype is not torch.float32:
            raise ContractViolation(self.env_id, call, step, None, "observation", str(observation.dtype), "float32")

    def _report_action(self, actions: object, step: int) -> None:
        self._tensor_problem("action", actions, "action", step)
        assert isinstance(actions, Tensor)
        self.contract.check_action(_numpy(actions), step=step)
        if self._discrete and (actions.is_floating_point() or actions.dtype is torch.bool):
            raise ContractViolation(self.env_id, "action", step, None, "action", str(actions.dtype), "an integer dtype")
        if not self._discrete and not actions.is_floating_point():
            raise ContractViolation(self.env_id, "action", step, None, "action", str(actions.dtype), "a float dtype")

    def _report_step(self, result: object, step: int) -> None:
        if type(result) is not tuple or len(result) != 5:
            self.contract.check_step(result, step=step)
            return
        observation, reward, terminated, truncated, info = result
        for name, value in (
            ("observation", observation),
            ("reward", reward),
            ("terminated", terminated),
            ("truncated", truncated),
        ):
            self._tensor_problem(name, value, "step", step)
        plain_info = dict(info) if isinstance(info, dict) else info
        final = marked = None
        if isinstance(plain_info, dict):
            final, marked = plain_info.pop("final_obs", None), plain_info.pop("_final_obs", None)
        self._fields.check_step(
            (_numpy(observation), _numpy(reward), _numpy(terminated), _numpy(truncated), plain_info),
            step=step,
        )
        self._dtype_problem(observation, "step", step)
        if self._same_step:
            self._report_final(final, marked, terminated, truncated, step)

    def _report_final(self, final: object, marked: object, terminated: Tensor, truncated: Tensor, step: int) -> None:
        done = (terminated | truncated).cpu().numpy()
        if final is None and marked is None:
            first = int(np.flatnonzero(done)[0])
            raise ContractViolation(
                self.env_id,
                "step",
                step,
                first,
                "info['final_obs']",
                "missing",
                "a final observation for every done sub-environment (autoreset mode SAME_STEP)",
            )
        self._tensor_problem("info['_final_obs']", marked, "step", step)
        self._tensor_problem("info['final_obs']", final, "step", step)
        assert isinstance(final, Tensor)
        assert isinstance(marked, Tensor)
        marks = marked.cpu().numpy()
        if marks.dtype != np.bool_ or marks.shape != done.shape or (marks != done).any():
            # The first row that disagrees; None for a mask of another shape, or of another dtype with done's values.
            differ = np.flatnonzero(marks != done) if marks.shape == done.shape else np.empty(0, np.intp)
            index: int | None = int(differ[0]) if len(differ) else None
            raise ContractViolation(
                self.env_id,
                "step",
                step,
                index,
                "info['_final_obs']",
                repr(marks.tolist()[:8]),
                "terminated | truncated, bool [N]",
            )
        values = final.cpu().numpy()
        for row in np.flatnonzero(done).tolist():
            problem = self.contract._final_observation.problem(values[row])
            if problem is not None:
                raise ContractViolation(self.env_id, "step", step, row, problem.field, problem.got, problem.expected)
        if final.dtype is not torch.float32 or tuple(final.shape) != self._observation_shape:
            raise ContractViolation(
                self.env_id,
                "step",
                step,
                None,
                "info['final_obs']",
                _layout(final),
                f"a float32 tensor {list(self._observation_shape)}",
            )


def _layout(value: object) -> str:
    """``"a float64 tensor [4, 4] on cpu"``, or for a tuple each item's, or :func:`describe`."""
    if isinstance(value, Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor {list(value.shape)} on {value.device}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_layout(item) for item in value) + ")"
    return describe(value)


def _numpy(value: object) -> object:
    """A tensor as a numpy array on the host (anything else unchanged): for the contract's reporting checks."""
    return value.detach().cpu().numpy() if isinstance(value, Tensor) else value

"""A module's parameters and gradients as views of two contiguous buffers, so that the per-step plumbing of a
small network (zeroing the gradients, their global norm and clipping, the optimizer step) is one tensor
operation each instead of one per parameter tensor.

This is the layout of PyTorch's ``DistributedDataParallel(gradient_as_bucket_view=True)`` and of apex's and
DeepSpeed's flat optimizers. For the small MLPs of classic control the per-tensor Python overhead of
``optimizer.zero_grad``, ``nn.utils.clip_grad_norm_`` and ``Adam.step`` is a third of a PPO gradient step on a
CPU; with one flat tensor it is a few percent.

The module keeps its parameters (same names, shapes and ``state_dict``): each one's storage is a slice of
:attr:`FlatParameters.parameter`, and each one's ``.grad`` is a slice of that parameter's ``.grad``, into which
autograd accumulates in place. The optimizer is built on ``[flat.parameter]``. Optimizer state saved from an
optimizer over the module's own parameters (one entry per tensor, the same order) is concatenated on load.
"""

import math
from typing import Any

import torch
from torch import Tensor, nn

from typedrl.errors import TrainingError

__all__ = ["FlatParameters"]


class FlatParameters:
    """Move ``module``'s parameters into one flat buffer ``parameter`` ``[P]`` (``P`` the number of scalars), in
    ``module.parameters()`` order, and their gradients into ``parameter.grad``.

    Build it after the module is on its device and in its dtype (``module.to`` afterwards would copy the
    parameters out of the buffer). Every parameter must share one device and one floating dtype, else
    :class:`ValueError`. ``module.load_state_dict`` copies into the views, so it keeps the layout.
    """

    def __init__(self, module: nn.Module) -> None:
        tensors = list(module.parameters())
        if not tensors:
            raise ValueError("FlatParameters: the module has no parameters")
        first = tensors[0]
        for tensor in tensors:
            if tensor.device != first.device or tensor.dtype != first.dtype:
                raise ValueError(
                    f"FlatParameters: parameters on {tensor.device} {tensor.dtype} and {first.device} "
                    f"{first.dtype}; expected one device and dtype"
                )
        total = sum(tensor.numel() for tensor in tensors)
        self.parameter = nn.Parameter(torch.empty(total, dtype=first.dtype, device=first.device))
        """All of the module's parameters, flattened and concatenated: what the optimizer updates."""
        self.parameter.grad = torch.zeros_like(self.parameter)
        self._views: list[tuple[nn.Parameter, Tensor, int]] = []  # (parameter, its gradient view, data_ptr)
        offset = 0
        for tensor in tensors:
            size = tensor.numel()
            self.parameter.data[offset : offset + size].copy_(tensor.data.reshape(-1))
            tensor.data = self.parameter.data[offset : offset + size].view_as(tensor)
            tensor.grad = self.parameter.grad[offset : offset + size].view_as(tensor)
            self._views.append((tensor, tensor.grad, tensor.data_ptr()))
            offset += size

    @property
    def grad(self) -> Tensor:
        """The flat gradient ``[P]``: every parameter's ``.grad``, concatenated (the same memory)."""
        gradient = self.parameter.grad
        assert gradient is not None  # set in __init__ and never released: zero_grad zeroes in place
        return gradient

    def zero_grad(self) -> None:
        """Zero every gradient, in place (``optimizer.zero_grad()`` would unlink them from the buffer)."""
        self.grad.zero_()

    def check_layout(self) -> None:
        """Raise :class:`~typedrl.errors.TrainingError` if something replaced a parameter's ``.grad`` or storage
        (``module.zero_grad()`` sets the gradients to ``None``; the next backward would then write gradients the
        optimizer never sees). A few identity tests: call it once per update, not per step."""
        for index, (tensor, gradient, address) in enumerate(self._views):
            if tensor.grad is not gradient or tensor.data_ptr() != address:
                raise TrainingError(
                    f"parameter {index} (shape {tuple(tensor.shape)}) no longer lives in the flat buffer: its "
                    "gradient or storage was replaced (e.g. by module.zero_grad() or module.to()); zero the "
                    "gradients with FlatParameters.zero_grad()"
                )

    def clip_grad_norm_(self, max_norm: float) -> Tensor:
        """Scale the gradients so their global L2 norm is at most ``max_norm`` and return the norm before
        scaling (a 0-dim tensor; non-finite when a gradient is). The formula of ``nn.utils.clip_grad_norm_``:
        ``g ← g · min(1, max_norm / (‖g‖₂ + 10⁻⁶))``; ``max_norm = inf`` only measures."""
        norm: Tensor = torch.linalg.vector_norm(self.grad)
        if not math.isinf(max_norm):
            self.grad.mul_((max_norm / (norm + 1e-6)).clamp_(max=1.0))
        return norm

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Let ``optimizer`` (built on ``[self.parameter]``) load state saved by an optimizer of the same kind over
        the module's own parameters, one state entry per tensor in ``module.parameters()`` order: each per-element
        state (Adam's ``exp_avg``, ``exp_avg_sq``) is flattened and concatenated, a scalar one (``step``) is taken
        from the first. A state dict with any other number of parameters is left for ``load_state_dict`` to
        refuse."""
        shapes = [tuple(tensor.shape) for tensor, _, _ in self._views]

        def concatenate(_: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
            groups = state_dict.get("param_groups")
            if not isinstance(groups, list) or len(groups) != 1 or len(groups[0].get("params", ())) != len(shapes):
                return state_dict
            if len(shapes) == 1:
                return state_dict
            ids = list(groups[0]["params"])
            states = [state_dict.get("state", {}).get(key) for key in ids]
            merged: dict[str, Any] = {}
            if all(isinstance(state, dict) for state in states):
                for key, first in states[0].items():
                    values = [state.get(key) for state in states]
                    if not all(isinstance(value, Tensor) for value in values):
                        return state_dict
                    if first.dim() == 0:
                        merged[key] = first.clone()  # not shared with the state it came from
                    elif all(tuple(value.shape) == shape for value, shape in zip(values, shapes, strict=True)):
                        merged[key] = torch.cat([value.reshape(-1) for value in values])
                    else:
                        return state_dict
            elif any(state is not None for state in states):
                return state_dict
            group = {**groups[0], "params": [0]}
            return {"state": {0: merged} if merged else {}, "param_groups": [group]}

        optimizer.register_load_state_dict_pre_hook(concatenate)

"""Checkpoints: modules, optimizers, RNG states, config and progress, saved atomically, loaded without unpickling.

A checkpoint is one :func:`torch.save` file holding only plain data: dicts, lists, tuples, strings, numbers,
booleans, ``None`` and tensors. :func:`load_checkpoint` reads it with ``torch.load(..., weights_only=True)``, so
loading never runs code from the file; a file that needs more is refused with
:class:`~typedrl.errors.CheckpointError`. :func:`save_checkpoint` checks the same rule before writing, so every
checkpoint it writes can be loaded back.

Resuming: ``restore(load_checkpoint(path), modules=..., optimizers=...)`` puts the weights, the optimizer state and
the RNG streams (:func:`capture_rng`) back where they were, so the next update is the one the interrupted run would
have made. Environment state is not covered: the caller decides how environments restart.

Integrity: every checkpoint carries a BLAKE2b digest of its contents (each key, number, string and tensor's dtype,
shape and bytes, in order). :func:`load_checkpoint` recomputes it and refuses a file whose contents changed since it
was written (a flipped bit, a hand edit), so a damaged checkpoint never loads as different weights. It also checks
the structure: state dicts of tensors, a config table, finite progress numbers.
"""

import hashlib
import math
import os
import pickle
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from typedrl import _validate
from typedrl._files import atomic_writer
from typedrl.errors import CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "RngState",
    "capture_rng",
    "load_checkpoint",
    "resolve_checkpoint_path",
    "restore",
    "restore_rng",
    "save_checkpoint",
]

FORMAT_VERSION: Final = 2
"""The version of the checkpoint layout this typedrl writes and reads (2: with a digest of the contents)."""

_FORMAT: Final = "typedrl-checkpoint"
_KEYS: Final = ("format", "format_version", "modules", "optimizers", "config", "progress", "rng", "extra", "digest")
_ZIP_MAGIC: Final = b"PK\x03\x04"
_PLAIN: Final = (str, int, float, bool, type(None), torch.Tensor, torch.Size)


@dataclass(frozen=True)
class RngState:
    """The state of every random stream typedrl's training uses, as plain data (see :func:`capture_rng`)."""

    torch_cpu: torch.Tensor
    """:func:`torch.get_rng_state`."""
    torch_cuda: tuple[torch.Tensor, ...]
    """:func:`torch.cuda.get_rng_state_all`; empty where CUDA is not available."""
    numpy: tuple[str, torch.Tensor, int, int, float]
    """:func:`numpy.random.get_state` (the global legacy generator), its key array as an int64 tensor."""
    python: tuple[int, tuple[int, ...], float | None]
    """:func:`random.getstate`."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: state dicts by name, the run's config and progress, and the RNG state."""

    path: Path
    """The file it was read from."""
    modules: Mapping[str, dict[str, torch.Tensor]]
    """Each module's ``state_dict()``, by the name it was saved under (e.g. ``actor``, ``critic``)."""
    optimizers: Mapping[str, dict[str, Any]]
    """Each optimizer's ``state_dict()``, by name."""
    config: Mapping[str, Any]
    """The run's config as JSON data."""
    progress: Mapping[str, int | float]
    """Where the run was, e.g. ``update`` and ``env_steps``."""
    rng: RngState | None
    """The RNG streams when saved, or ``None`` if they were not saved."""
    extra: Mapping[str, Any]
    """Anything else the caller saved (plain data only)."""


def capture_rng() -> RngState:
    """The current state of torch's CPU generator, every CUDA generator, numpy's global RNG and :mod:`random`."""
    numpy_state = np.random.get_state(legacy=True)
    if not isinstance(numpy_state, tuple):  # only a non-MT19937 global generator gives a dict
        raise CheckpointError(
            f"capture_rng: numpy's global RNG state is {type(numpy_state).__name__}; expected MT19937"
        )
    algorithm, keys, position, has_gauss, cached_gaussian = numpy_state
    version, internal, gauss_next = random.getstate()
    return RngState(
        torch_cpu=torch.get_rng_state(),
        torch_cuda=tuple(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else (),
        numpy=(
            str(algorithm),
            torch.from_numpy(keys.astype(np.int64)),
            int(position),
            int(has_gauss),
            float(cached_gaussian),
        ),
        python=(int(version), tuple(int(value) for value in internal), gauss_next),
    )


def restore_rng(state: RngState) -> None:
    """Put every random stream back to ``state``; CUDA states are restored for the devices present.

    Raises:
        CheckpointError: a saved state does not fit its generator (a wrong size or type); every stream is then
            left as it was before the call.
    """
    before = capture_rng()
    try:
        _apply_rng(state)
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError) as error:
        _apply_rng(before)
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        raise CheckpointError(f"restore_rng: a saved random state does not fit its generator ({detail})") from None


def _apply_rng(state: RngState) -> None:
    torch.set_rng_state(state.torch_cpu)
    if torch.cuda.is_available():
        for device, cuda_state in enumerate(state.torch_cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)
    algorithm, keys, position, has_gauss, cached_gaussian = state.numpy
    np.random.set_state((algorithm, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, internal, gauss_next = state.python
    random.setstate((version, tuple(internal), gauss_next))


def _check_plain(value: object, where: str) -> None:
    """Raise unless ``value`` is made of what weights-only loading accepts."""

    def key(path: str, name: object) -> None:
        if not isinstance(name, str | int):
            raise CheckpointError(f"save_checkpoint: {path} has a key {name!r}; expected str or int keys")

    def leaf(path: str, item: object) -> object:
        if not isinstance(item, _PLAIN):
            raise CheckpointError(
                f"save_checkpoint: {path} is a {type(item).__name__}; expected dicts, lists, tuples, str, int, "
                "float, bool, None or tensors (weights-only loading refuses anything else)"
            )
        return item

    _validate.map_nested(value, leaf, where=where, key=key, atoms=(torch.Size,))


def _rng_payload(state: RngState) -> dict[str, Any]:
    return {
        "torch_cpu": state.torch_cpu,
        "torch_cuda": list(state.torch_cuda),
        "numpy": state.numpy,
        "python": state.python,
    }


def _digest(payload: Mapping[str, Any]) -> str:
    """A BLAKE2b digest of everything in ``payload`` but its ``digest`` key: keys, types, values and tensors."""
    hasher = hashlib.blake2b(digest_size=32)

    def feed(value: object) -> None:
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            hasher.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
            if tensor.numel():
                hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, Mapping):
            hasher.update(b"D%d" % len(value))
            for key, item in value.items():
                feed(key)
                feed(item)
        elif isinstance(value, list | tuple) and not isinstance(value, torch.Size):
            hasher.update(b"L%d" % len(value))
            for item in value:
                feed(item)
        elif isinstance(value, float):
            hasher.update(b"F" + struct.pack("<d", value))
        elif isinstance(value, bool | int | str | type(None) | torch.Size):
            hasher.update(f"{type(value).__name__}:{value!r};".encode())
        else:  # _check_plain and weights-only loading admit nothing else
            raise CheckpointError(f"checkpoint digest: cannot read a {type(value).__name__}")

    for key, item in payload.items():
        if key != "digest":
            feed(key)
            feed(item)
    return hasher.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    config: Mapping[str, Any],
    progress: Mapping[str, int | float],
    rng: RngState | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint to ``path`` atomically (temporary file, fsync, rename); returns the path.

    ``config`` is the run's config as JSON data; ``progress`` holds finite numbers such as ``update`` and
    ``env_steps``; ``rng`` is usually :func:`capture_rng`'s result; ``extra`` is any other plain data.

    Raises:
        CheckpointError: something that weights-only loading could not read back, or a non-finite progress value.
    """
    plain_progress: dict[str, int | float] = {}
    for name, number in progress.items():
        if not _validate.is_real(number) or not math.isfinite(number):
            raise CheckpointError(f"save_checkpoint: progress[{name!r}] is {number!r}; expected a finite number")
        # A numpy scalar is stored as the Python number it holds: weights-only loading reads nothing else.
        plain_progress[name] = int(number) if _validate.is_integer(number) else float(number)
    payload = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "modules": {name: module.state_dict() for name, module in modules.items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
        "config": dict(config),
        "progress": plain_progress,
        "rng": None if rng is None else _rng_payload(rng),
        "extra": dict(extra or {}),
    }
    _check_plain(payload, "checkpoint")
    payload["digest"] = _digest(payload)
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(target, error=CheckpointError) as handle:
            torch.save(payload, handle)
    except OSError as err:
        raise CheckpointError(
            f"save_checkpoint: {target}: cannot write it: {err.strerror or err}", write=True
        ) from None
    return target


def _first_sentence(err: BaseException) -> str:
    """``Kind: first sentence`` of an error from :func:`torch.load` (whose messages run to a paragraph)."""
    text = " ".join(str(err).split())
    lines = [line.strip() for line in str(err).splitlines() if "WeightsUnpickler error:" in line]
    if lines:  # a weights-only refusal: the line that names what was refused
        text = lines[0].split("WeightsUnpickler error:", 1)[1].strip()
    sentence = text.split(". ", 1)[0].rstrip(".")
    return f"{type(err).__name__}: {sentence}" if sentence else type(err).__name__


def _field(payload: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in payload:
        raise CheckpointError(f"{where}: missing key {key!r}")
    value = payload[key]
    if not isinstance(value, kind):
        raise CheckpointError(f"{where}: {key} is a {type(value).__name__}; expected a {kind.__name__}")
    return value


def _state_dicts(payload: dict[str, Any], key: str, where: str, *, tensors: bool) -> dict[str, dict[str, Any]]:
    """``payload[key]``: a dict of named state dicts (of tensors only when ``tensors``)."""
    states: dict[object, object] = _field(payload, key, dict, where)
    for name, state in states.items():
        if not isinstance(name, str) or not isinstance(state, dict):
            got = type(name).__name__ if not isinstance(name, str) else type(state).__name__
            raise CheckpointError(f"{where}: {key}[{name!r}] is a {got}; expected a state dict (a dict)")
        if tensors:
            for entry, value in state.items():
                if not isinstance(value, torch.Tensor):
                    raise CheckpointError(
                        f"{where}: {key}[{name!r}][{entry!r}] is a {type(value).__name__}; expected a tensor"
                    )
    return states  # type: ignore[return-value]  # checked above


def _progress(payload: dict[str, Any], where: str) -> dict[str, int | float]:
    progress: dict[str, int | float] = _field(payload, "progress", dict, where)
    for name, number in progress.items():
        if not _validate.is_real(number) or not math.isfinite(number):
            raise CheckpointError(f"{where}: progress[{name!r}] is {number!r}; expected a finite number")
    return progress


def _rng_from(payload: Any, where: str) -> RngState | None:
    if payload is None:
        return None
    try:
        algorithm, keys, position, has_gauss, cached = payload["numpy"]
        version, internal, gauss_next = payload["python"]
        state = RngState(
            torch_cpu=payload["torch_cpu"],
            torch_cuda=tuple(payload["torch_cuda"]),
            numpy=(algorithm, keys, position, has_gauss, cached),
            python=(version, tuple(internal), gauss_next),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: rng is malformed ({type(err).__name__}: {err})") from err
    tensors = (state.torch_cpu, *state.torch_cuda, keys)
    if not all(isinstance(tensor, torch.Tensor) for tensor in tensors):
        raise CheckpointError(f"{where}: rng is malformed (a generator state is not a tensor)")
    return state


def _sniff(file: Path, where: str) -> None:
    """Refuse, by their first bytes, files that are not a torch archive, naming what they look like."""
    try:
        with file.open("rb") as handle:
            head = handle.read(64)
    except OSError as err:
        raise CheckpointError(f"{where}: cannot read it: {err.strerror or err}") from None
    if head.startswith(_ZIP_MAGIC):
        return
    if not head:
        raise CheckpointError(f"{where}: the file is empty; expected a checkpoint.pt written by typedrl")
    text = head.lstrip()
    if text.startswith(b"{") and (b'"schema_version"' in head or b'"algo"' in head or file.suffix == ".json"):
        raise CheckpointError(
            f"{where}: this is a JSON file (a trainlog.json?), not a checkpoint; pass the run's checkpoint.pt or "
            "its run directory"
        )
    kind = "a text file" if _is_text(head) else "not a torch archive"
    raise CheckpointError(f"{where}: {kind}; expected a checkpoint.pt written by typedrl")


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def resolve_checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """``path``, or ``path/checkpoint.pt`` when ``path`` is a run directory."""
    file = Path(path)
    return file / "checkpoint.pt" if file.is_dir() else file


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint with ``torch.load(..., weights_only=True)``; tensors go to ``map_location``.

    ``path`` is a checkpoint file, or a run directory (its ``checkpoint.pt`` is read).

    Raises:
        CheckpointError: the file is missing, empty, truncated or corrupt, is not a torch archive (a training log,
            a text file), holds objects weights-only loading refuses, is not a typedrl checkpoint, has another
            format version, lacks a key, has the wrong structure, or its contents do not match its digest; and
            ``map_location`` names a device this torch cannot use.
    """
    file = resolve_checkpoint_path(path)
    where = f"load_checkpoint: {file}"
    location = _validate.device("load_checkpoint", map_location, error=CheckpointError)
    if not file.exists():
        raise CheckpointError(f"{where}: no such file")
    if not file.is_file():
        raise CheckpointError(f"{where}: not a regular file (a device, a FIFO?); expected a checkpoint.pt")
    _sniff(file, where)
    try:
        payload = torch.load(file, map_location=location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err) and "Unsupported global" in str(err):
            detail = _first_sentence(err)
            raise CheckpointError(f"{where}: refused: it holds objects beyond plain data ({detail})") from err
        raise CheckpointError(f"{where}: not a readable checkpoint (corrupt?): {_first_sentence(err)}") from err
    except Exception as err:  # torch.load raises many kinds for a damaged file
        detail = _first_sentence(err)
        raise CheckpointError(f"{where}: not a readable checkpoint (truncated or corrupt?): {detail}") from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise CheckpointError(f"{where}: not a typedrl checkpoint (no format {_FORMAT!r} marker)")
    version = _field(payload, "format_version", int, where)
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{where}: format_version is {version}; expected {FORMAT_VERSION}")
    for key in _KEYS:
        if key not in payload:
            raise CheckpointError(f"{where}: missing key {key!r}")
    try:
        digest = _digest(payload)
    except CheckpointError as err:
        raise CheckpointError(f"{where}: {err}") from None
    if payload["digest"] != digest:
        raise CheckpointError(
            f"{where}: the contents do not match the digest written with them (the file was damaged or edited); "
            "refusing to load it"
        )
    config = _field(payload, "config", dict, where)
    if not all(isinstance(key, str) for key in config):
        raise CheckpointError(f"{where}: config has a key that is not a string")
    return Checkpoint(
        path=file,
        modules=_state_dicts(payload, "modules", where, tensors=True),
        optimizers=_state_dicts(payload, "optimizers", where, tensors=False),
        config=config,
        progress=_progress(payload, where),
        rng=_rng_from(payload["rng"], where),
        extra=_field(payload, "extra", dict, where),
    )


def _load_into(
    where: str, kind: str, name: str, target: nn.Module | torch.optim.Optimizer, states: Mapping[str, dict[str, Any]]
) -> None:
    if name not in states:
        raise CheckpointError(f"{where}: no {kind} {name!r}; the checkpoint has {sorted(states)}")
    try:
        # The state dict itself, not a copy: a module's carries _metadata (per-submodule versions).
        target.load_state_dict(states[name])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        detail = " ".join(str(err).split())  # torch's message spans lines; keep ours on one
        raise CheckpointError(f"{where}: {kind} {name!r} does not fit: {detail}") from err


def restore(
    checkpoint: Checkpoint,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    rng: bool = True,
) -> None:
    """Load the checkpoint's state dicts into ``modules`` and ``optimizers`` (by name), and its RNG state.

    Each name given must be in the checkpoint; names the checkpoint has but the call does not are left alone
    (so evaluation can restore the actor only). With ``rng=True`` the RNG streams are restored too, when saved.

    Raises:
        CheckpointError: a name the checkpoint lacks, or a state dict that does not fit (keys, shapes, groups).
    """
    where = f"restore: {checkpoint.path}"
    for name, module in modules.items():
        _load_into(where, "module", name, module, checkpoint.modules)
    for name, optimizer in (optimizers or {}).items():
        _load_into(where, "optimizer", name, optimizer, checkpoint.optimizers)
        _check_optimizer_state(where, name, optimizer)
    if rng and checkpoint.rng is not None:
        try:
            restore_rng(checkpoint.rng)
        except CheckpointError as error:
            raise CheckpointError(f"{where}: {error}") from None


def _check_optimizer_state(where: str, name: str, optimizer: torch.optim.Optimizer) -> None:
    """Every per-parameter state tensor (Adam's moments) has its parameter's shape, dtype family and device:
    ``load_state_dict`` does not check it, and a wrong one would only fail in the middle of training."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for key, value in optimizer.state.get(parameter, {}).items():
                # Step counters are not per element: Adam's is a scalar, StackedAdam's one per agent.
                if not isinstance(value, torch.Tensor) or value.dim() == 0 or key == "step":
                    continue
                if value.shape != parameter.shape or value.is_floating_point() != parameter.is_floating_point():
                    raise CheckpointError(
                        f"{where}: optimizer {name!r} does not fit: its state {key!r} has shape "
                        f"{tuple(value.shape)} for a parameter of shape {tuple(parameter.shape)}"
                    )

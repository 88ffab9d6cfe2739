"""Where the benchmark scripts put what they measure: one JSON file per benchmark, with what produced it.

Every ``bench/`` script prints its table and writes, through :func:`write`, ``bench/results/<name>.json`` (or the
``--out`` path); with ``--smoke`` (tiny sizes, a few seconds, for the test suite) it writes into a new temporary
directory unless ``--out`` is given, and marks the file ``"smoke": true``. The docs render their benchmark tables
from the committed files (``docs/bench_tables.py``), which refuse a smoke file. The layout::

    {
      "benchmark": "returns",
      "script": "bench/bench_returns.py",
      "command": "python bench/bench_returns.py",       # the exact command line, with the script's repository path
      "smoke": false,
      "commit": {"sha": "39e2bee...", "dirty": false},  # dirty: tracked files differ from HEAD (bench/results/ aside)
      "date": "2025-06-01T12:00:00Z",                   # UTC, when the file was written
      "wall_seconds": 312.4,                            # from this module's import to the write
      "machine": {"platform": ..., "python": "3.11.7", "cpu": "Intel(R) Xeon(R) ...", "logical_cores": 2,
                  "torch_threads": 1, "load_average": [1.9, 1.7, 1.5], "gpu": null},
      "versions": {"typedrl": ..., "torch": ..., "numpy": ..., "gymnasium": ..., <each peer package>: ...},
      "settings": {...},                                # sizes, budgets, repeats, targets: what the run was asked
      "results": [{...}, ...],                          # raw rows: every repeat, every seed, as measured
      "summary": {...}                                  # what the printed table shows, derived from the rows
    }

Rows are plain dicts; each script documents its own. Timing rows carry a list with one figure per repeat (in the
order they were taken: contenders interleaved, see ``timing.py``). A learning-curve benchmark (PPO, REINFORCE) writes
one row per label and seed with :func:`curve_row`: ``{"label": ..., "seed": 0, "points": [{"env_steps": 2048,
"seconds": 0.41, "mean": 9.3}, ...]}``, and puts the return it counts as solved in ``settings["threshold"]``.

Floats are written to 6 significant digits (timing noise is far larger); a NaN or an infinity anywhere is an error
naming where it is (write ``None`` for a figure that was not measured). The file is written to a temporary file
beside the target and renamed over it, so a killed run never leaves half a file.
"""

import argparse
import importlib.metadata
import itertools
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent  # the repository
RESULTS = ROOT / "bench" / "results"
PACKAGES = ("typedrl", "torch", "numpy", "gymnasium")
_STARTED = time.monotonic()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--smoke`` and ``--out`` to a benchmark's parser."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, a few seconds: checks that the script runs (writes to a temporary directory unless --out)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the JSON results (default: bench/results/NAME.json)"
    )


def output_path(name: str, *, smoke: bool, out: Path | None) -> Path:
    """``out`` if given; else a new temporary directory for a smoke run, ``bench/results/NAME.json`` otherwise."""
    if out is not None:
        return out
    if smoke:
        return Path(tempfile.mkdtemp(prefix="typedrl-bench-")) / f"{name}.json"
    return RESULTS / f"{name}.json"


def script_path(argv0: str) -> str:
    """The script as a path from the repository root where it lies inside it (``bench/bench_returns.py``)."""
    script = Path(argv0).resolve()
    return script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else argv0


def command_line(argv: Sequence[str]) -> str:
    """``python bench/x.py ARGS``: the command that ran, from the repository root."""
    return shlex.join(["python", script_path(argv[0]), *argv[1:]])


def commit() -> dict[str, Any]:
    """The repository's HEAD and whether tracked files differ from it (results files aside); ``None``s without git."""

    def git(*arguments: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    # Earlier results written in this checkout are not a change to what is measured.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results")
    return {"sha": sha, "dirty": None if status is None else status != ""}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where the figures were measured; the load average says how busy the machine was (``None`` where unknown)."""
    try:
        load: list[float] | None = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": load,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def versions(peers: Iterable[str] = ()) -> dict[str, str | None]:
    """Installed versions of typedrl, its stack and each peer distribution (``None``: not installed)."""
    found: dict[str, str | None] = {}
    for package in (*PACKAGES, *peers):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def curve_row(label: str, seed: int, points: Iterable[tuple[int, float, float]], **extra: Any) -> dict[str, Any]:
    """One learning curve as a results row: ``(env_steps, seconds, mean)`` points, in order of env steps."""
    rows = [
        {"env_steps": int(steps), "seconds": float(seconds), "mean": float(mean)} for steps, seconds, mean in points
    ]
    if any(later["env_steps"] <= earlier["env_steps"] for earlier, later in itertools.pairwise(rows)):
        raise ValueError(f"curve_row: {label} seed {seed}: env steps are not increasing: {rows}")
    return {"label": label, "seed": seed, **extra, "points": rows}


def plain(value: Any, where: str = "results") -> Any:
    """``value`` as JSON data: numpy and torch scalars as numbers, tuples as lists, floats to 6 significant digits.

    Raises ``ValueError`` naming the place of a NaN or infinity, ``TypeError`` for what JSON cannot hold.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"bench results: {where} is {value}; expected a finite number (None if not measured)")
        return float(f"{value:.6g}")
    if isinstance(value, Mapping):
        return {str(key): plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy or torch scalar
        return plain(value.item(), where)
    raise TypeError(f"bench results: {where} is {value!r} (a {type(value).__name__}); expected JSON data")


def dumps(value: Any, indent: str = "") -> str:
    """JSON with one key per line, but a list of numbers (one figure per repeat) or a short flat dict on one line."""
    inner = indent + "  "
    one_line = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if isinstance(value, dict) and value and not (all(_flat(item) for item in value.values()) and len(one_line) < 100):
        items = [f"{inner}{json.dumps(key)}: {dumps(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and not all(_scalar(item) for item in value):
        return "[\n" + ",\n".join(inner + dumps(item, inner) for item in value) + "\n" + indent + "]"
    return one_line


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _flat(value: Any) -> bool:
    return _scalar(value) or (isinstance(value, list) and all(_scalar(item) for item in value))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # what open() would give; mkstemp's file is private to its owner
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(
    name: str,
    args: argparse.Namespace,
    *,
    settings: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    peers: Iterable[str] = (),
) -> Path:
    """Write one benchmark's results (layout in the module docstring) and say where; return the path.

    ``args`` is the script's parsed arguments, with ``smoke`` and ``out`` from :func:`add_arguments`; ``peers``
    names the distributions of the peers measured (``"stable-baselines3"``), whose versions are recorded.
    """
    if not name.isidentifier():
        raise ValueError(f"bench results: name is {name!r}; expected a short identifier such as 'returns'")
    smoke = bool(args.smoke)
    document = plain(
        {
            "benchmark": name,
            "script": script_path(sys.argv[0]),
            "command": command_line(sys.argv),
            "smoke": smoke,
            "commit": commit(),
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wall_seconds": time.monotonic() - _STARTED,
            "machine": machine(),
            "versions": versions(peers),
            "settings": settings,
            "results": results,
            "summary": summary,
        },
        where=name,
    )
    path = output_path(name, smoke=smoke, out=args.out)
    _write_atomically(path, dumps(document) + "\n")
    print(f"\nresults written to {path}{' (smoke run)' if smoke else ''}")
    return path

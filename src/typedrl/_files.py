"""How typedrl writes files without losing anything: atomic replacement, stale temporaries, and a run's lock.

* :func:`atomic_writer`: the data goes to a temporary file in the target's directory (same file system, so the
  rename is atomic), is flushed and ``fsync``-ed, and replaces the target with :func:`os.replace`. A reader sees
  the old file or the new one, never a half-written one. If writing fails, the temporary file is removed and the
  old target stays as it was. Only a regular file (or nothing) is ever replaced: a device node such as
  ``/dev/null``, a directory, a FIFO or a socket at the path is refused, and a symbolic link is followed, so the
  file it points to is replaced and the link stays.
* :func:`remove_stale_temporaries`: a process killed while writing leaves its temporary file behind; its name
  holds the writer's process id, so the files of processes that no longer run can be removed.
* :class:`RunLock`: an exclusive ``flock`` on a lock file in the run directory, so two runs never write one
  directory. The kernel drops the lock when its process dies, ``kill -9`` included.
"""

import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from typedrl.errors import TypedRLError

__all__ = ["RunLock", "atomic_writer", "check_replaceable", "remove_stale_temporaries"]

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def check_replaceable(path: str | os.PathLike[str], *, what: str, error: type[TypedRLError]) -> Path:
    """The file that writing ``path`` will replace: ``path`` itself, or the file a symbolic link points to.

    Raises ``error`` (``"WHAT: PATH is a character device; expected a regular file or a new path"``) when
    something that is not a regular file is there, or the parent is not a directory.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        for parent in target.parents:  # the nearest existing ancestor must be a directory
            if parent.exists():
                if not parent.is_dir():
                    raise error(
                        f"{what}: {str(parent)!r} is not a directory, so {str(path)!r} cannot be written"
                    ) from None
                break
        return target
    except OSError as err:
        raise error(f"{what}: {str(path)!r} cannot be inspected: {err.strerror or err}") from None
    if not stat.S_ISREG(mode):
        raise error(f"{what}: {str(path)!r} is {_kind(mode)}; expected a regular file or a new path")
    return target


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


@contextmanager
def atomic_writer(path: str | os.PathLike[str], *, error: type[TypedRLError]) -> Iterator[BinaryIO]:
    """Open a binary temporary file next to ``path``; on a clean exit it atomically replaces ``path``.

    Raises ``error`` when ``path`` holds something other than a regular file (see :func:`check_replaceable`).
    """
    target = check_replaceable(path, what="write", error=error)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for any ordinary new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows opening a directory (POSIX)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):  # someone else's process, or a pid this OS cannot hold
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that :func:`atomic_writer` calls in ``directory`` left when their process
    died; returns what was removed. A temporary file of a process that still runs is left alone."""
    folder = Path(directory)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _running(int(match["pid"])):
            continue
        try:
            if entry.is_file() and not entry.is_symlink():
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    return removed


class RunLock:
    """An exclusive lock on ``directory`` for one run: ``.typedrl.lock`` in it, held with ``fcntl.flock``.

    Use as a context manager. Raises ``error`` when another process holds it (the message names its process id,
    read from the lock file). Where ``fcntl`` does not exist (Windows) no lock is taken.
    """

    NAME = ".typedrl.lock"

    def __init__(self, directory: str | os.PathLike[str], *, error: type[TypedRLError]) -> None:
        self.path = Path(directory) / self.NAME
        self.error = error
        self._descriptor: int | None = None

    def __enter__(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:
            return self
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise self.error(
                f"{str(self.path.parent)!r} is in use by another typedrl run (process {holder}); wait for it, or "
                "choose another --out"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        self._descriptor = descriptor
        return self

    def __exit__(self, *exc: object) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock; the file stays (removing it would race)
            self._descriptor = None

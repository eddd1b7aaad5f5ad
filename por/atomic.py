"""Output that is either complete or absent, and never lost.

- Files: temp file + fsync + rename (`atomic_open`, `write_text`, `write_bytes`).
- Folders: filled in a hidden staging folder beside the target, renamed into place in one step
  (`atomic_directory`), under an exclusive lock beside the target (`folder_lock`), so two runs
  cannot both write one folder. A replaced folder is moved aside first and put back under its own
  name if the swap fails; a run killed at any moment leaves either the old folder, the new one, or
  the old one moved aside, which the next run puts back.
- Output paths are checked before any work starts (`check_output_file`, `check_output_folder`):
  a path that is a folder, under a file, in a missing or read-only folder is refused up front,
  with one line saying what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from por.errors import InputError

__all__ = [
    "atomic_open",
    "write_text",
    "write_bytes",
    "atomic_directory",
    "folder_lock",
    "check_output_file",
    "check_output_folder",
    "check_not_inside",
    "claim_folder",
    "recover",
    "LockedError",
]


class LockedError(InputError):
    """Another run holds the lock beside the output folder."""


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Writes beside `path`, then renames over it; on any error the old file stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            raise _naming(exc, path) from exc
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """A write that failed without saying where (ENOSPC from write()): the error, naming our output."""
    return OSError(exc.errno, exc.strerror, str(path))


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


# --- checking output paths before any work -------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_writable_folder(folder: Path, shown: str, option: str) -> None:
    if not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder: choose another {option}", file=shown)
    if not os.access(folder, os.W_OK | os.X_OK):
        if _read_only_fs(folder):
            raise InputError(f"folder {folder} is on a read-only file system: choose another {option}", file=shown)
        raise InputError(
            f"folder {folder} is not writable by you: choose another {option} or change its permissions", file=shown
        )


def _read_only_fs(folder: Path) -> bool:
    with contextlib.suppress(OSError):
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    return False


def check_output_file(path: str | Path, option: str = "--out") -> None:
    """A file we are about to write: not a folder, in an existing folder we can write in."""
    path = Path(path)
    shown = str(path)
    if path.is_dir():
        raise InputError(f"is a folder: {option} takes a file name, such as {path / 'out.json'}", file=shown)
    parent = Path(os.path.abspath(path)).parent
    if not parent.exists():
        existing = _nearest_existing(parent)
        if existing.exists() and not existing.is_dir():
            raise InputError(f"{existing} is a file, not a folder: choose another {option}", file=shown)
        raise InputError(f"folder {parent} does not exist: create it first or choose another {option}", file=shown)
    _check_writable_folder(parent, shown, option)


def check_output_folder(
    path: str | Path, *, replaceable: Callable[[Path], str | None] | None = None, option: str = "--out"
) -> None:
    """A folder we are about to create or replace.

    `replaceable(folder)` is None to refuse any non-empty folder (no --force), else it returns
    the reason a non-empty folder may not be replaced, or "" when it may.
    """
    path = Path(path)
    shown = str(path)
    absolute = Path(os.path.abspath(path))
    if absolute == absolute.parent:
        raise InputError(f"{option} cannot be the root folder: give a new folder's name", file=shown)
    if os.path.lexists(path) and not path.is_dir():
        raise InputError(f"is a file, not a folder: choose another {option}", file=shown)
    if path.is_dir() and any(path.iterdir()):
        if replaceable is None:
            raise InputError("output folder exists and is not empty (use --force to replace it)", file=shown)
        why = replaceable(path)
        if why:
            raise InputError(
                f"--force replaces only a folder `por publish` wrote, and this one {why}: "
                f"move it away or choose another {option}",
                file=shown,
            )
    existing = _nearest_existing(absolute.parent)
    _check_writable_folder(existing, shown, option)


def check_not_inside(folder: str | Path, inputs: dict[str, Path | None]) -> None:
    """Inputs must not live inside the folder a run would replace: they would be lost with it."""
    target = Path(os.path.realpath(folder))
    for option, value in inputs.items():
        if value is None:
            continue
        place = Path(os.path.realpath(value))
        if place == target or target in place.parents:
            where = "is the output folder" if place == target else f"is inside the output folder {folder}"
            raise InputError(
                f"{where}, which this run would replace: write the output somewhere else", file=str(value), field=option
            )


# --- folders: a lock beside the target, staging, swap ----------------------------------------------

_held: dict[str, int] = {}  # lock files this process holds → nesting depth
_held_guard = threading.Lock()


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def folder_lock(target: str | Path) -> Iterator[None]:
    """An exclusive lock beside `target` (never inside it: the folder is replaced whole).

    Re-entrant within one process, refused at once (LockedError) when another process holds it;
    the kernel drops it when its holder dies, so a killed run never leaves a stuck lock.
    """
    import fcntl

    shown = str(target)
    target = Path(os.path.abspath(target))
    lock = _lock_path(target)
    key = str(lock)
    with _held_guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(
                    f"another por run is writing this folder (it holds {lock}): wait for it to "
                    "finish, or choose another --out",
                    file=shown,
                ) from None
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))  # not unlinked by its last holder meanwhile
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    with _held_guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _leftovers(target: Path, kind: str) -> list[Path]:
    """Staging (`partial`) or moved-aside (`old`) folders of earlier runs on this target."""
    pattern = re.compile(re.escape(f".{target.name}.{kind}-") + r"[A-Za-z0-9_]{8}")
    with contextlib.suppress(OSError):
        return sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    return []


def recover(target: str | Path) -> None:
    """Under the lock: undo what a killed run left beside `target`.

    A folder moved aside by a run killed mid-swap is put back under its own name if nothing
    took its place; staging folders (they may hold secrets) are removed.
    """
    target = Path(os.path.abspath(target))
    for old in _leftovers(target, "old"):
        moved = old / "x"
        if os.path.lexists(moved) and not os.path.lexists(target):
            os.replace(moved, target)
        shutil.rmtree(old, ignore_errors=True)
    for staging in _leftovers(target, "partial"):
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done: a swap is never left half made by them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not None:  # None: a handler Python cannot put back
            previous[signum] = signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])  # now, to whatever handler was there before


def _replaceable(replace: bool | Callable[[Path], str | None]) -> Callable[[Path], str | None] | None:
    if callable(replace):
        return replace
    return (lambda folder: "") if replace else None


@contextlib.contextmanager
def claim_folder(target: str | Path, *, replace: bool | Callable[[Path], str | None] = False) -> Iterator[None]:
    """Checks `target` can be written, takes its lock, undoes what a killed run left, checks again.

    Hold it from before the first input is read to the end of the run: a second run on the same
    folder is refused at once instead of after all its work.
    """
    replaceable = _replaceable(replace)
    check_output_folder(target, replaceable=replaceable)
    with folder_lock(target):
        recover(target)
        check_output_folder(target, replaceable=replaceable)
        yield


@contextlib.contextmanager
def atomic_directory(target: str | Path, *, replace: bool | Callable[[Path], str | None] = False) -> Iterator[Path]:
    """Fills a hidden staging folder, then renames it to `target` in one step, under `claim_folder`.

    `replace` is False (a non-empty target is refused), True (any folder is replaced) or a
    function returning why a folder may not be replaced ("" or None when it may), asked again
    at the swap. A run killed half-way leaves only `.NAME.partial-*` beside the target, never a
    folder that looks finished; the next run removes it.
    """
    target = Path(target)
    replaceable = _replaceable(replace)
    with claim_folder(target, replace=replace):
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            staging.chmod(0o755)  # mkdtemp makes it private; a publication is meant to be read
            yield staging
            _fsync_dir(staging)
            check_output_folder(target, replaceable=replaceable)  # nothing slipped in meanwhile
            _swap(staging, target)
            _fsync_dir(target.parent)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) and exc.filename is None:
                raise _naming(exc, target) from exc
            raise


def _swap(staging: Path, target: Path) -> None:
    """staging → target; an existing target is moved aside and put back if the rename fails."""
    if not os.path.lexists(target):
        with _signals_deferred():
            os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    with _signals_deferred():
        os.replace(target, old / "x")
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(old / "x", target)
            os.rmdir(old)
            raise
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

"""Files that appear whole or not at all, the folder they go to, and the signals in the way.

Every file is first written to a hidden temporary file beside its final name (``.NAME.TAG.tmp``)
and renamed into place, so a reader never sees half of one. `OutputFolder` holds an output
folder for one run: it creates what is missing, proves the folder can be written before any work,
locks it against a concurrent run and, if the run fails, removes the folders it created.
`deferred_signals` holds off SIGINT and SIGTERM over steps that must not be cut in half.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from stress.errors import ConfigError

try:
    import fcntl
except ImportError:  # not POSIX: folders are not locked
    fcntl = None

LOCK_FILE = ".stress.lock"
PROBE = "stress-probe"
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.(tmp|old)$")  # see temp_name


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: reading the umask means setting it, which races with other threads.
FILE_MODE = 0o666 & ~_read_umask()


def new_tag() -> str:
    """A random tag naming one run's temporary files (12 hex digits)."""
    return secrets.token_hex(6)


def temp_name(name: str, tag: str, kind: str = "tmp") -> str:
    """The hidden name of a temporary (``tmp``) or set-aside (``old``) copy of ``name``."""
    return f".{name[:200]}.{tag}.{kind}"  # shortened: a 255-byte name must still get a temp


def remove_quietly(path: str | Path) -> None:
    """Remove a file if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def stage(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` (an ordinary file: FILE_MODE), flushed to disk.

    The caller knows the name before the file exists, so it can remove it whatever happens.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames into it) to disk, where the system allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it there.

    A reader sees the old file or the new one, never a mix; on any failure or interruption the
    temporary file is removed and ``path`` is as it was.
    """
    path = Path(path)
    tmp = path.parent / temp_name(path.name, new_tag())
    try:
        stage(tmp, data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:
        with deferred_signals():
            remove_quietly(tmp)


@contextlib.contextmanager
def deferred_signals(signums: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Hold SIGINT and SIGTERM off for the block, then act on the first that came.

    The handlers in force before the block are restored on leaving it and the first signal
    received meanwhile is raised again, so it does what it would have done (a KeyboardInterrupt,
    the CLI's exception, or the end of the process), only after the block.
    """
    if threading.current_thread() is not threading.main_thread():
        # Python runs handlers in the main thread only: this thread cannot be interrupted.
        yield
        return
    pending: list[int] = []
    previous = {s: signal.getsignal(s) for s in signums}
    # None: a handler installed outside Python, which Python could not put back
    previous = {s: h for s, h in previous.items() if h is not None}
    for signum in previous:
        signal.signal(signum, lambda s, _frame: pending.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _dangling(path: Path) -> bool:
    return os.path.islink(path) and not os.path.exists(path)


def _refuse(label: str, target: Path, what: str) -> ConfigError:
    return ConfigError(f"{label}: expected a folder, got {target}, {what}")


def _missing_folders(target: Path, label: str) -> list[Path]:
    """The folders to create for ``target`` (outermost first), checking what is there."""
    missing: list[Path] = []
    here = target
    while True:
        try:
            st = os.stat(here)
        except (FileNotFoundError, NotADirectoryError):
            if _dangling(here):
                where = "" if here == target else f"inside {here}, "
                what = f"{where}a symbolic link to {os.readlink(here)}, which does not exist"
                raise _refuse(label, target, what) from None
            if here.parent == here:
                break
            missing.append(here)
            here = here.parent
            continue
        except OSError as exc:  # a symlink loop, a name too long, a folder we may not read
            raise ConfigError(
                f"{label}: expected a folder that can be written, got {target}: {_why(exc)}"
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            what = "an existing file" if here == target else f"inside {here}, which is a file"
            raise _refuse(label, target, what)
        break
    return missing[::-1]


def make_folder(target: Path, label: str) -> list[Path]:
    """Create ``target`` and its missing parents; return those created, outermost first.

    Raises
    ------
    ConfigError
        ``target`` or a parent is a file or a dangling symbolic link, or cannot be created (a
        read-only or immutable parent, a name too long, a place like /proc): nothing is left.
    """
    created: list[Path] = []
    try:
        for folder in _missing_folders(target, label):
            os.mkdir(folder)
            created.append(folder)
    except OSError as exc:
        remove_folders(created)
        raise ConfigError(
            f"{label}: expected a folder that can be written, got {target}: {_why(exc)}"
        ) from None
    return created


def remove_folders(created: list[Path]) -> None:
    """Remove folders we created, innermost first, and only while they are empty."""
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except OSError:  # someone put something there: it stays, and so do its parents
            return


def probe_folder(folder: Path, refusal: str) -> None:
    """Prove that files can be created in ``folder`` by creating and removing one.

    Permission bits alone would not tell: root ignores them, and an immutable or read-only
    folder refuses root as well. ``refusal`` starts the error message; the reason ends it.
    """
    probe = folder / temp_name(PROBE, new_tag())
    with deferred_signals():  # created and removed in one go: never left behind
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
        except OSError as exc:
            raise ConfigError(f"{refusal}: {_why(exc)}") from None
        remove_quietly(probe)


def check_file_target(path: Path, label: str) -> None:
    """Refuse, before any work, a file that could not be written (``stress calibrate -o``).

    Raises
    ------
    ConfigError
        A folder, a dangling or looping symbolic link, a name too long, or a parent folder that
        is missing or cannot be written.
    """
    unusable = f"{label}: expected a file that can be written, got {path}"
    misplaced = ConfigError(f"{label}: expected a file in an existing folder, got {path}")
    try:
        os.lstat(path)
        st = os.stat(path)  # through a symbolic link: a dangling one or a loop fails here
    except FileNotFoundError:
        if os.path.islink(path):
            dest = os.readlink(path)
            what = f"a symbolic link to {dest}, which does not exist"
            raise ConfigError(f"{unusable}, {what}") from None
        st = None
    except NotADirectoryError:
        raise misplaced from None
    except OSError as exc:  # a name too long, a symbolic link loop
        raise ConfigError(f"{unusable}: {_why(exc)}") from None
    if (st is not None and stat.S_ISDIR(st.st_mode)) or not path.parent.is_dir():
        raise misplaced
    probe_folder(path.parent, unusable)


_HELD: dict[tuple[int, int], OutputFolder] = {}


class OutputFolder:
    """An output folder held by this process for one run.

    On entering: create the folder (and missing parents), prove it can be written and take an
    exclusive lock (``.stress.lock`` inside it, removed on leaving), or raise `ConfigError`
    (another run holds it, or it cannot be created or written) with nothing left behind.
    On leaving: release the lock and, if the block failed or was interrupted, remove the
    folders created on entering (only while they are empty). Both run with SIGINT and SIGTERM
    deferred, so neither is left half done. While held, `held_folder` finds it, so that
    `stress.output.publish.write_outputs` publishes under the caller's lock instead of taking its
    own.

    Parameters
    ----------
    path : Path
        The folder.
    label : str
        How error messages name it (``--out``, ``out_dir``).
    """

    def __init__(self, path: Path, label: str) -> None:
        self.path, self.label = Path(path), label
        self.created: list[Path] = []
        self.published = False  # set once a run's files are all in place
        self._fd: int | None = None
        self._key: tuple[int, int] | None = None

    def __enter__(self) -> OutputFolder:
        try:
            # A signal meanwhile is raised at the end of this block, still inside __enter__,
            # where no __exit__ follows: hence the release below.
            with deferred_signals():
                self.created = make_folder(self.path, self.label)
                probe_folder(self.path, self._unusable)
                self._fd = self._lock()
                st = os.stat(self.path)
                self._key = (st.st_dev, st.st_ino)
                _HELD[self._key] = self
        except BaseException:
            with deferred_signals():
                self._release(failed=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with deferred_signals():
            self._release(failed=exc_type is not None)

    def _release(self, failed: bool) -> None:
        if self._key is not None:
            _HELD.pop(self._key, None)
        if self._fd is not None:
            # Removed while still locked: a run waiting on this file notices it is gone.
            remove_quietly(self.path / LOCK_FILE)
            os.close(self._fd)
            self._fd = None
        if failed:
            remove_folders(self.created)

    @property
    def _unusable(self) -> str:
        return f"{self.label}: expected a folder that can be written, got {self.path}"

    def _lock(self) -> int:
        lock = self.path / LOCK_FILE
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            except OSError as exc:
                raise ConfigError(f"{self._unusable}: {_why(exc)}") from None
            if fcntl is None:
                return fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise ConfigError(
                        f"{self.label}: another stress run is writing to {self.path}; "
                        "expected a folder no other run is using"
                    ) from None
                return fd  # a file system without locks: run unlocked rather than not at all
            # The holder removes the file before releasing it: a lock on a removed file is void.
            with contextlib.suppress(FileNotFoundError):
                here, ours = os.stat(lock), os.fstat(fd)
                if (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino):
                    return fd
            os.close(fd)


def held_folder(path: Path) -> OutputFolder | None:
    """The `OutputFolder` this process holds for ``path``, if any."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _HELD.get((st.st_dev, st.st_ino))


def remove_leftovers(folder: Path, names: Iterable[str]) -> None:
    """Remove the temporaries (``.NAME.TAG.tmp`` / ``.old``) of ``names`` left by a killed run.

    Call it with the folder locked: then no live run owns them, and names other than the
    package's own files are never matched, so nothing of the user's is touched.
    """
    known = set(names)
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = LEFTOVER.match(entry.name)
            if match and match["name"] in known and entry.is_file(follow_symlinks=False):
                remove_quietly(entry.path)

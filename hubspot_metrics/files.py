"""Writing the files a user asks for (CSV, HTML report): refused early when the path is a
folder or the store itself, and replaced atomically so a failed write leaves the old file whole.
"""

from __future__ import annotations

import os
import secrets
import stat

from hubspot_metrics.errors import ConfigError


# The store's own files: SQLite's write-ahead log and shared memory, and the sync lock.
STORE_FILES = ("", "-wal", "-shm", ".lock")


def _same_file(a: str, b: str) -> bool:
    """Resolved paths catch symlinks and not-yet-existing files; samefile catches hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_output(path: str, store_path: str, setting: str = "--out path", example: str = "kpis.csv") -> None:
    """Refuse, before any work, an output path that is a folder or would overwrite the store."""
    if os.path.isdir(path):
        raise ConfigError(f"Cannot write {path}: it is a folder; give a file path as the {setting}, "
                          f"e.g. {os.path.join(path, example)}.")
    if any(_same_file(path, str(store_path) + suffix) for suffix in STORE_FILES):
        raise ConfigError(f"Cannot write {path}: it would overwrite the store {store_path}; choose another {setting}.")


def _cannot_write(path: str, reason, setting: str) -> ConfigError:
    return ConfigError(f"Cannot write {path} ({reason}); choose another {setting}.")


def write_file(path: str, text: str, setting: str = "--out path") -> None:
    """Write atomically: a temporary file beside the target, then os.replace, so a failure
    leaves the old file whole. `setting` names where the path came from, so the error says what to change."""
    target = os.path.realpath(path)  # through a symlink, replace what it points to, as writing through it did
    try:
        existing = os.stat(target).st_mode
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _cannot_write(path, exc.strerror, setting) from None
    if existing is not None and not stat.S_ISREG(existing):  # /dev/stdout, a pipe: nothing to replace
        try:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise _cannot_write(path, exc.strerror or exc, setting) from None
        return
    if existing is not None and not os.access(target, os.W_OK):
        # Replacing needs only a writable folder; a read-only file must stay as refused as before.
        raise _cannot_write(path, "Permission denied", setting)
    temp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 less the umask, as open() gives a new file; an existing file keeps its mode.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _cannot_write(path, exc.strerror, setting) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if existing is not None:
                os.fchmod(f.fileno(), existing & 0o7777)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc.strerror or exc, setting) from None
        raise

"""Read-only files and filesystems that hold for root too (CI runs as root).

Root ignores permission bits, so as root a file is made immutable (`chattr +i`, which root
must undo before writing) and a read-only filesystem is a small tmpfs remounted read-only.
Where neither is possible the test is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

IS_ROOT = os.geteuid() == 0


def _run(*command: str) -> bool:
    return shutil.which(command[0]) is not None and subprocess.run(command, capture_output=True).returncode == 0


@contextmanager
def read_only_file(path: Path):
    """`path` cannot be written by this user, root included, inside the block."""
    if not IS_ROOT:
        mode = path.stat().st_mode
        os.chmod(path, 0o400)
        try:
            yield
        finally:
            os.chmod(path, mode)
        return
    if not _run("chattr", "+i", str(path)):
        pytest.skip("as root a read-only file needs chattr +i, which this filesystem refuses")
    try:
        yield
    finally:
        _run("chattr", "-i", str(path))


@contextmanager
def read_only_filesystem(folder: Path, files: list[Path]):
    """A read-only filesystem mounted at `folder`, holding copies of `files`."""
    if not IS_ROOT:
        pytest.skip("mounting a read-only filesystem needs root (CI runs as root)")
    folder.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)):
        pytest.skip("this machine does not let root mount a tmpfs")
    try:
        for f in files:
            shutil.copy2(f, folder / f.name)
        assert _run("mount", "-o", "remount,ro", str(folder))
        yield folder
    finally:
        if not _run("umount", str(folder)):
            _run("umount", "-l", str(folder))  # (a connection still open; detach now, free later)

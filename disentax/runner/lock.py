"""One training process per run folder: an exclusive OS lock on `<workdir>/.lock`.

`fcntl.flock` locks die with their process, so a crash or `kill -9` never leaves a stale lock; the
file holds the owner's pid for the error message only.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from disentax.errors import ConfigError


class RunLock:
    """Hold `workdir/.lock` exclusively, or raise a one-line ConfigError naming the holder."""

    def __init__(self, workdir):
        self.path = Path(workdir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(f"cannot write in {self.path.parent}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ConfigError(f"{self.path.parent} is in use: disentax process {holder} is training there "
                              "(wait for it, or use another --workdir)") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


__all__ = ["RunLock"]

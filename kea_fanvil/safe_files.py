"""Reading and writing files as root without being turned against the machine.

kea-fanvil runs as root and writes configuration that servers execute, so every file it reads
or writes goes through here (a leaf module: it imports nothing of the package):

- **Reading** takes regular files only, up to a stated size: ``/dev/zero``, a FIFO or a
  folder is refused at once instead of being read until memory runs out.
- **Writing** replaces a regular file atomically: a temporary file in the same folder,
  written, flushed to disk, then renamed over the target, so a reader never sees half a file.
  A symlink is followed to the regular file it names (its target is replaced, the link stays);
  a symlink to nothing, a device, a FIFO, a socket or a folder is refused, never replaced. An
  existing file keeps its owner, group and mode, less every right of "other" when the content
  is secret (Debian's ``/etc/kea/kea-dhcp4.conf`` is ``root:_kea 0640``, and Kea must still
  read it); a new file is 0600 when secret, else 0644.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kea_fanvil.errors import UnsafeFile

__all__ = ["MAX_POLICY_BYTES", "UnsafeFile", "read_bytes", "read_text", "write_atomic"]

# A policy with 100,000 devices inline is about 10 MB; a CSV inventory of a million phones
# about 80 MB. Past these a file is not a policy, and reading it would only exhaust memory.
MAX_POLICY_BYTES = 64 * 1024 * 1024




def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The contents of the regular file ``path`` (symlinks followed), at most ``limit`` bytes
    (default :data:`MAX_POLICY_BYTES`)."""
    limit = MAX_POLICY_BYTES if limit is None else limit
    # O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path} is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFile(f"{path} is {info.st_size} bytes; at most {limit} are read")
        os.set_blocking(fd, True)
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise UnsafeFile(f"{path} is over {limit} bytes; at most {limit} are read")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | Path, limit: int | None = None, encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded (``UnicodeDecodeError`` when it is not that encoding)."""
    return read_bytes(path, limit).decode(encoding)


def _target(path: Path) -> tuple[Path, os.stat_result | None]:
    """The regular file a write to ``path`` replaces (a symlink's target), and its stat."""
    real = Path(os.path.realpath(path))
    try:
        info = os.stat(real)
    except FileNotFoundError:
        if path.is_symlink():
            raise UnsafeFile(f"{path} is a symlink to {real}, which does not exist") from None
        return real, None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{path} is {_kind(info.st_mode)}; only a regular file is replaced")
    return real, info


def write_atomic(
    path: str | Path, data: bytes, secret: bool = False, mode: int | None = None
) -> Path:
    """Write ``data`` to ``path`` as the module text says; return the file written.

    ``mode`` forces the file's mode (files other users' servers must read), the owner and
    group are still kept."""
    target, existing = _target(Path(path))
    if mode is None and existing is not None:
        mode = stat.S_IMODE(existing.st_mode) & (0o7770 if secret else 0o7777)
    elif mode is None:
        mode = 0o600 if secret else 0o644
    temporary = target.with_name(f".{target.name}.kea-fanvil-{os.getpid()}.tmp")
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            if existing is not None and os.geteuid() == 0:
                os.fchown(out.fileno(), existing.st_uid, existing.st_gid)
            os.fchmod(out.fileno(), mode)  # after chown, which clears set-id bits
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    try:
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return target
    try:
        os.fsync(folder)  # the rename itself survives a crash
    except OSError:
        pass
    finally:
        os.close(folder)
    return target

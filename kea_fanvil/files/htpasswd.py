"""Password files for nginx's basic authentication: SHA-512 crypt hashes, written as root.

nginx checks ``auth_basic_user_file`` lines itself for ``$apr1$``, ``{PLAIN}``, ``{SHA}`` and
``{SSHA}``, and hands anything else to the C library's ``crypt()``: glibc (and the libxcrypt of
Debian 12 and later) knows ``$6$``, SHA-512 crypt ("Unix crypt using SHA-256 and SHA-512",
Ulrich Drepper, 2008, https://www.akkadia.org/drepper/SHA-crypt.txt). Python 3.13 has no
``crypt`` module, so the algorithm is written out here from that specification, at its default
5,000 rounds: nginx computes the hash in its worker, per request, so more rounds would make a
burst of phones wait on each other (``tests/test_serve_config.py`` checks it against
``openssl passwd -6``; ``integration/test_nginx_guard.py`` against nginx).

A file is rewritten only when its users or passwords change: a line whose hash still verifies
is kept as it is, salt and all, so running the command again changes nothing on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from kea_fanvil import safe_files
from kea_fanvil.errors import FilesError

__all__ = ["FILE_MODE", "ROUNDS", "check", "sha512_crypt", "text", "write"]

ROUNDS = 5000  # the specification's default, and the one it leaves out of the hash
FILE_MODE = 0o640  # root writes, nginx's workers (the group) read, nobody else
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_CHARS = _ITOA64
# The specification's byte order for the 86 characters of a SHA-512 hash.
_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54),
    (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60),
    (40, 61, 19), (62, 20, 41),
)  # fmt: skip


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def sha512_crypt(password: str, salt: str | None = None, rounds: int = ROUNDS) -> str:
    """``$6$salt$hash`` for ``password`` (UTF-8), as glibc's ``crypt()`` computes it."""
    if salt is None:
        salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(16))
    if not 1000 <= rounds <= 999_999_999:
        raise ValueError(f"rounds {rounds} is outside 1000..999999999")
    key, salt_bytes = password.encode(), salt.encode()[:16]
    b = hashlib.sha512(key + salt_bytes + key).digest()
    a = hashlib.sha512(key + salt_bytes + _repeat(b, len(key)))
    n = len(key)
    while n:
        a.update(b if n & 1 else key)
        n >>= 1
    a_digest = a.digest()
    p = _repeat(hashlib.sha512(key * len(key)).digest(), len(key)) if key else b""
    s = _repeat(hashlib.sha512(salt_bytes * (16 + a_digest[0])).digest(), len(salt_bytes))
    c = a_digest
    for i in range(rounds):
        h = hashlib.sha512(p if i & 1 else c)
        if i % 3:
            h.update(s)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    encoded = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, 0, c[63], 2)
    head = "$6$" if rounds == ROUNDS else f"$6$rounds={rounds}$"
    return f"{head}{salt_bytes.decode()}${encoded}"


def check(password: str, hashed: str) -> bool:
    """True when ``hashed`` is a ``$6$`` hash of ``password`` (other schemes: False)."""
    parts = hashed.split("$")
    if len(parts) not in (4, 5) or parts[:2] != ["", "6"]:
        return False
    rounds = ROUNDS
    if len(parts) == 5:
        if not parts[2].startswith("rounds=") or not parts[2][7:].isdigit():
            return False
        rounds = int(parts[2][7:])
    salt = parts[-2]
    try:
        again = sha512_crypt(password, salt, rounds)
    except ValueError:
        return False
    return hmac.compare_digest(again.encode(), hashed.encode())


def text(users: Sequence[tuple[str, str]], existing: str = "") -> str:
    """The file for (user, password) pairs, keeping each hash of ``existing`` that verifies."""
    kept: dict[str, str] = {}
    for line in existing.splitlines():
        user, sep, hashed = line.partition(":")
        if sep:
            kept.setdefault(user, hashed)
    lines = []
    for user, password in users:
        old = kept.get(user)
        hashed = old if old is not None and check(password, old) else sha512_crypt(password)
        lines.append(f"{user}:{hashed}\n")
    return "".join(lines)


def _group_id(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise FilesError(
            f"no group {group!r} on this machine: name the group nginx's workers run as "
            "(Debian: www-data)"
        ) from None


def write(path: Path, users: Sequence[tuple[str, str]], group: str) -> bool:
    """Write the password file ``path`` for ``users``: mode 0640, group ``group``, never
    through a symlink to something else than a regular file. True when it changed."""
    gid = _group_id(group)
    try:
        existing = safe_files.read_text(path, 1 << 24)
    except FileNotFoundError:
        existing = ""
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FilesError(f"cannot read {path}: {reason}") from None
    new = text(users, existing)
    try:
        if new == existing:
            target = Path(os.path.realpath(path))
            changed = False
        else:
            target = safe_files.write_atomic(path, new.encode(), secret=True, mode=FILE_MODE)
            changed = True
        # The group after the content: until then the file is root's alone (0640, root's
        # group), so no moment exposes it more widely than the end result.
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FilesError(f"{target} is not a regular file")
            if info.st_gid != gid:
                os.fchown(fd, -1, gid)
            if stat.S_IMODE(info.st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    except OSError as exc:
        raise FilesError(f"cannot write {path}: {exc.strerror or exc}") from None
    return changed

"""A PostgreSQL cluster of Debian's packages for one test: its own data folder under /tmp, a
unix socket there (no TCP at all), a role `kea` with a password kept in a passfile, removed
afterwards. initdb and the server refuse to run as root, so they run as Debian's `postgres`
user, which cannot enter pytest's root-only tmp_path: hence a folder of its own."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lab import run_command

__all__ = ["PgCluster", "pg_bindir", "postgres_cluster"]


def pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("no PostgreSQL server installed (Debian's postgresql package)")
    return found[-1].parent


@dataclass
class PgCluster:
    base: Path  # the socket's folder
    data: Path
    bindir: Path
    passfile: Path  # root's, mode 0600: what the hook reads
    log: Path

    @property
    def uri(self) -> str:
        """The inventory URI the hook takes: no password in it."""
        return f"postgresql://kea@/kea?host={self.base}&passfile={self.passfile}"

    def _pg_ctl(self, *argv: str) -> None:
        run_command(
            "runuser",
            "-u",
            "postgres",
            "--",
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            *argv,
        )

    def start(self) -> None:
        options = f"-c listen_addresses='' -c unix_socket_directories={self.base}"
        self._pg_ctl("-w", "-t", "30", "-l", str(self.log), "-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def psql(self, sql: str) -> str:
        """Run `sql` as the superuser; its output, unaligned."""
        done = run_command(
            "runuser",
            "-u",
            "postgres",
            "--",
            str(self.bindir / "psql"),
            "-h",
            str(self.base),
            "-d",
            "kea",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )
        return done.stdout


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PgCluster]:
    bindir = pg_bindir()
    postgres = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="kf-pg-", dir="/tmp"))
    os.chown(base, postgres.pw_uid, postgres.pw_gid)
    os.chmod(base, 0o755)
    data = base / "data"
    password = secrets.token_hex(12)
    passfile = Path(tempfile.mkdtemp(prefix="kf-pgpass-", dir="/tmp")) / "pgpass"
    passfile.write_text(f"*:*:kea:kea:{password}\n")
    passfile.chmod(0o600)
    cluster = PgCluster(base, data, bindir, passfile, base / "postgresql.log")
    started = False
    try:
        # Local connections: the superuser by peer (runuser), everyone else by password.
        run_command(
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bindir / "initdb"),
            "-D",
            str(data),
            "--auth-local=peer",
            "--auth-host=reject",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        hba = data / "pg_hba.conf"
        hba.write_text("local all postgres peer\nlocal all all scram-sha-256\n")
        cluster.start()
        started = True
        run_command(
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bindir / "psql"),
            "-h",
            str(base),
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"CREATE ROLE kea LOGIN PASSWORD '{password}'",
            "-c",
            "CREATE DATABASE kea OWNER kea",
        )
        yield cluster
    finally:
        if started:
            with contextlib.suppress(RuntimeError):
                cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(passfile.parent, ignore_errors=True)

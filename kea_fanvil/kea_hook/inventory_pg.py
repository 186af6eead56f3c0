"""The inventory in PostgreSQL: one table shared by every Kea server that loads the hook.

Sites with several Kea servers (an HA pair per region, all on one PostgreSQL lease database)
point each server's ``inventory`` at the same database,
``postgresql://kea@db.example.net/kea?passfile=/etc/kea/pgpass``, and see every phone once.

- **Credentials** come from libpq: a ``passfile`` (the URI's parameter or ``PGPASSFILE``),
  ``PGPASSWORD`` in Kea's environment, or a method without one (peer, certificates). A
  password written in the URI is refused: the URI is logged, shown by ``fanvil-status`` and
  held in Kea's configuration, which ``config-get`` prints.
- **Two servers, one phone.** Rows are upserted with ``ON CONFLICT (mac) DO UPDATE``, which
  PostgreSQL serialises per row; counts add up, ``first_seen`` only goes back and
  ``last_seen`` only forward, and a sighting older than the row (from the slower server) does
  not overwrite newer facts. Each batch upserts its rows in MAC order, so two servers'
  batches lock shared rows in the same order and cannot deadlock. ``server`` says which server
  wrote the row's facts (the hook's ``server-name``, by default the host name).
- **Slow or down.** Connections time out after :data:`CONNECT_TIMEOUT` seconds and statements
  after :data:`STATEMENT_TIMEOUT`; the writer then counts the batch as dropped and tries again
  later (kea_fanvil.kea_hook.inventory). DHCP answers never wait for the database.

The tables are ``kea_fanvil_phones`` and ``kea_fanvil_meta``: prefixed, because the database
may be Kea's own lease database.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from kea_fanvil.errors import InventoryError
from kea_fanvil.redact import mask

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CONNECT_TIMEOUT",
    "SCHEMA_VERSION",
    "STATEMENT_TIMEOUT",
    "PgInventory",
    "check_uri",
    "is_postgresql",
    "phone_filters",
    "read_meta",
    "read_models",
    "read_rows",
    "shown_uri",
]

SCHEMA_VERSION = 1
CONNECT_TIMEOUT = 3  # seconds (libpq's connect_timeout)
STATEMENT_TIMEOUT = 5000  # milliseconds a batch may take before it is given up
_SCHEMA_LOCK = 0x6B66_0001  # pg_advisory_xact_lock key: two servers creating the tables at once

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kea_fanvil_phones (
    mac text PRIMARY KEY,
    matched_by text NOT NULL,
    model text NOT NULL,
    firmware text NOT NULL,
    vendor_class text NOT NULL,
    address text NOT NULL,
    relay text NOT NULL,
    site text NOT NULL,
    url text NOT NULL,
    boot_file text NOT NULL,
    first_seen double precision NOT NULL,
    last_seen double precision NOT NULL,
    times_seen bigint NOT NULL,
    server text NOT NULL
);
CREATE INDEX IF NOT EXISTS kea_fanvil_phones_last_seen ON kea_fanvil_phones (last_seen);
CREATE TABLE IF NOT EXISTS kea_fanvil_meta (key text PRIMARY KEY, value text NOT NULL);
"""

_FACTS = (
    "matched_by",
    "model",
    "firmware",
    "vendor_class",
    "address",
    "relay",
    "site",
    "url",
    "boot_file",
    "server",
)
# A newer sighting's facts win; an older one (the slower of two servers) only adds its count.
_NEWER = ", ".join(
    f"{c} = CASE WHEN excluded.last_seen >= p.last_seen THEN excluded.{c} ELSE p.{c} END"
    for c in _FACTS
)
_UPSERT = f"""
INSERT INTO kea_fanvil_phones AS p (mac, matched_by, model, firmware, vendor_class, address,
    relay, site, url, boot_file, first_seen, last_seen, times_seen, server)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (mac) DO UPDATE SET {_NEWER},
    first_seen = LEAST(p.first_seen, excluded.first_seen),
    last_seen = GREATEST(p.last_seen, excluded.last_seen),
    times_seen = p.times_seen + excluded.times_seen
"""
_TOUCH = """
UPDATE kea_fanvil_phones SET last_seen = GREATEST(last_seen, %s), times_seen = times_seen + %s
WHERE mac = %s
"""
# A phone learnt from an HTTP access log (kea-fanvil files learn): it says nothing of the DHCP
# decision, so only the model, firmware (when known) and address of a newer sighting replace
# a row's; every other fact stays as DHCP left it. The SQLite twin is inventory._HTTP_UPSERT.
_LEARN = """
INSERT INTO kea_fanvil_phones AS p (mac, matched_by, model, firmware, vendor_class, address,
    relay, site, url, boot_file, first_seen, last_seen, times_seen, server)
VALUES (%s, 'http', %s, %s, '', %s, '', %s, '', '', %s, %s, %s, %s)
ON CONFLICT (mac) DO UPDATE SET
    model = CASE WHEN excluded.last_seen >= p.last_seen THEN excluded.model ELSE p.model END,
    firmware = CASE WHEN excluded.last_seen >= p.last_seen AND excluded.firmware <> ''
        THEN excluded.firmware ELSE p.firmware END,
    address = CASE WHEN excluded.last_seen >= p.last_seen THEN excluded.address ELSE p.address END,
    first_seen = LEAST(p.first_seen, excluded.first_seen),
    last_seen = GREATEST(p.last_seen, excluded.last_seen),
    times_seen = p.times_seen + excluded.times_seen
"""
_COLUMNS = (
    "mac, matched_by, model, firmware, vendor_class, address, relay, site, url, boot_file, "
    "first_seen, last_seen, times_seen, server"
)


_PASSWORD_PARAMETER = re.compile(r"(?i)([?&]password=)[^&#]*")


def shown_uri(uri: str) -> str:
    """``uri`` as it may be shown: a password masked in the user part and in the query."""
    return _PASSWORD_PARAMETER.sub(r"\1****", mask(uri))


def is_postgresql(target: str | object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def check_uri(uri: str) -> None:
    """InventoryError unless ``uri`` is a PostgreSQL URI without a password in it."""
    try:
        parts = urlsplit(uri)
        query = dict(parse_qsl(parts.query))
    except ValueError as exc:
        raise InventoryError(f"{shown_uri(uri)}: not a PostgreSQL URI ({exc})") from None
    if parts.password is not None or "password" in query:
        raise InventoryError(
            f"{shown_uri(uri)}: the inventory's URI holds a password; give it in a passfile "
            "(?passfile=/etc/kea/pgpass, mode 0600) or Kea's environment (PGPASSWORD), "
            "never in Kea's configuration"
        )


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # the package is a dependency; a broken venv still says so
        raise InventoryError(f"PostgreSQL inventory: cannot import psycopg ({exc})") from None
    return psycopg


def _connect(uri: str, read_only: bool) -> psycopg.Connection[Any]:
    check_uri(uri)
    pg = _psycopg()
    try:
        conn: psycopg.Connection[Any] = pg.connect(
            uri,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="kea-fanvil",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT}",
        )
        if read_only:
            conn.read_only = True
    except pg.Error as exc:
        raise InventoryError(f"{shown_uri(uri)}: {_one_line(exc)}") from None
    return conn


def _one_line(exc: BaseException) -> str:
    # libpq's messages span lines ("connection failed: ...\n\tIs the server running ...").
    return mask(" ".join(str(exc).split()))


class PgInventory:
    """One writer's connection: the tables made if missing, batches upserted."""

    def __init__(self, uri: str, server: str) -> None:
        self.uri = uri
        self.server = server
        self._conn = _connect(uri, read_only=False)
        pg = _psycopg()
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                self._conn.execute(_SCHEMA)
                self._conn.execute(
                    "INSERT INTO kea_fanvil_meta VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
                row = self._conn.execute(
                    "SELECT value FROM kea_fanvil_meta WHERE key = 'schema_version'"
                ).fetchone()
        except pg.Error as exc:
            self._conn.close()
            raise InventoryError(f"{shown_uri(uri)}: {_one_line(exc)}") from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            self._conn.close()
            raise InventoryError(
                f"{shown_uri(uri)}: kea_fanvil_phones is of schema {row[0] if row else '?'}, "
                f"not {SCHEMA_VERSION}; it is left as it is"
            )

    def write(self, rows: list[tuple[Any, ...]], touches: list[tuple[float, int, str]]) -> None:
        """One transaction; InventoryError (and the connection closed) when it fails."""
        pg = _psycopg()
        ordered = sorted(rows, key=lambda row: row[0])  # the same lock order on every server
        touched: list[tuple[float, int, str]] = sorted(touches, key=lambda touch: touch[2])
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                if ordered:
                    cur.executemany(_UPSERT, [(*row, self.server) for row in ordered])
                if touched:
                    cur.executemany(_TOUCH, touched)
        except pg.Error as exc:
            self.close()
            raise InventoryError(f"{shown_uri(self.uri)}: {_one_line(exc)}") from None

    def learn(self, rows: list[tuple[Any, ...]], meta: tuple[str, str] | None) -> None:
        """Phones learnt from an access log, (mac, model, firmware, address, site, first,
        last, times) each, and the meta ``(key, value)``, in one transaction."""
        pg = _psycopg()
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                if rows:
                    cur.executemany(_LEARN, [(*row, self.server) for row in sorted(rows)])
                if meta is not None:
                    cur.execute(
                        "INSERT INTO kea_fanvil_meta VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        meta,
                    )
        except pg.Error as exc:
            raise InventoryError(f"{shown_uri(self.uri)}: {_one_line(exc)}") from None
        finally:
            self.close()

    @property
    def closed(self) -> bool:
        return bool(self._conn.closed)

    def close(self) -> None:
        self._conn.close()


def phone_filters(since: float | None, model: str | None, mark: str) -> tuple[str, list[Any]]:
    """The WHERE clause of a phones query (SQLite's and PostgreSQL's differ only in the
    parameter ``mark``, ``?`` or ``%s``) and its arguments."""
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if since is not None:
        where.append(f"last_seen >= {mark}")
        args.append(since)
    if model is not None:
        where.append(f"lower(model) = lower({mark})")
        args.append(model)
    return " AND ".join(where), args


def read_meta(uri: str, key: str) -> str | None:
    """A value of kea_fanvil_meta; None when it, or the table, is missing."""
    pg = _psycopg()
    with _connect(uri, read_only=True) as conn:
        try:
            row = conn.execute(
                "SELECT value FROM kea_fanvil_meta WHERE key = %s", (key,)
            ).fetchone()
        except pg.errors.UndefinedTable:
            return None  # no server has written yet
        except pg.Error as exc:
            raise InventoryError(f"{shown_uri(uri)}: {_one_line(exc)}") from None
    return None if row is None else str(row[0])


def read_models(uri: str, limit: int) -> list[tuple[str, str, int]]:
    """(model, firmware, phones), most phones first."""
    pg = _psycopg()
    conn = _connect(uri, read_only=True)
    try:
        found: list[tuple[str, str, int]] = conn.execute(
            "SELECT model, firmware, count(*) FROM kea_fanvil_phones GROUP BY model, firmware "
            "ORDER BY count(*) DESC, model, firmware LIMIT %s",
            (limit,),
        ).fetchall()
    except pg.errors.UndefinedTable:
        return []
    except pg.Error as exc:
        raise InventoryError(f"{shown_uri(uri)}: {_one_line(exc)}") from None
    finally:
        conn.close()
    return found


def read_rows(uri: str, since: float | None, model: str | None) -> list[tuple[Any, ...]]:
    """The rows (the columns of kea_fanvil.kea_hook.inventory.Phone), most recent first."""
    pg = _psycopg()
    conn = _connect(uri, read_only=True)
    try:
        where, args = phone_filters(since, model, "%s")
        rows: list[tuple[Any, ...]] = conn.execute(
            f"SELECT {_COLUMNS} FROM kea_fanvil_phones WHERE {where} ORDER BY last_seen DESC, mac",
            args,
        ).fetchall()
    except pg.errors.UndefinedTable:
        raise InventoryError(
            f"{shown_uri(uri)}: no kea-fanvil inventory there yet "
            "(the hook creates it on first use)"
        ) from None
    except pg.Error as exc:
        raise InventoryError(f"{shown_uri(uri)}: {_one_line(exc)}") from None
    finally:
        conn.close()
    return rows

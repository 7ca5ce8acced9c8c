"""The store: connection pools and the versioned, idempotent schema upgrade.

Migrations live in ``fleet/migrations/``:

``versioned/NNNN_name.sql``
    Run once each, in order, recorded in ``schema_migrations`` with a checksum; an applied file
    that was edited afterwards stops the upgrade (write a new file instead).
``plain/*.sql``
    Re-runnable objects (views) for plain PostgreSQL, run by every upgrade where TimescaleDB
    is absent.
``timescale/*.sql``
    Re-runnable TimescaleDB DDL (hypertable, compression, continuous aggregate, retention), run
    by every upgrade where ``timescaledb`` is in ``pg_extension``, and nowhere else. Their
    parameters arrive as transaction-local settings ``pogo.<name>``.

The whole upgrade is one transaction under an advisory lock, so two processes upgrading at
once (two ingesters starting together) take turns and the second finds nothing to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable

import psycopg
from psycopg_pool import ConnectionPool

from fleet.errors import MigrationError

__all__ = ["StoreOptions", "UpgradeReport", "has_timescaledb", "open_pool", "upgrade"]

_MIGRATIONS = files("fleet") / "migrations"
_VERSIONED = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x706F676F  # 'pogo'


@dataclass(frozen=True)
class StoreOptions:
    """The TimescaleDB policy parameters (ignored on plain PostgreSQL)."""

    telemetry_compress_after_days: int = 7
    telemetry_retention_days: int = 0
    daily_refresh_window_days: int = 5


@dataclass
class UpgradeReport:
    """What an upgrade did: the versions it applied and which path it took."""

    applied: list[str] = field(default_factory=list)
    current_version: int = 0
    timescaledb: bool = False


def open_pool(dsn: str, size: int = 4, name: str = "pogo") -> ConnectionPool:
    """Open a connection pool (the caller closes it, or uses it as a context manager)."""
    pool = ConnectionPool(dsn, min_size=1, max_size=size, name=name, open=False)
    pool.open(wait=True, timeout=30)
    return pool


def _versioned() -> list[tuple[int, str, Traversable]]:
    found = []
    for entry in (_MIGRATIONS / "versioned").iterdir():
        match = _VERSIONED.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
    found.sort(key=lambda item: item[0])
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return found


def _repeatable(folder: str) -> list[Traversable]:
    return sorted(
        (e for e in (_MIGRATIONS / folder).iterdir() if e.name.endswith(".sql")),
        key=lambda e: e.name,
    )


def has_timescaledb(conn: psycopg.Connection[object]) -> bool:
    """Whether the ``timescaledb`` extension is installed in this database."""
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def _try_create_timescaledb(conn: psycopg.Connection[object]) -> None:
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not available:
        return
    try:
        with conn.transaction():  # a savepoint: failure leaves the upgrade going, plain
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except (
        psycopg.errors.FeatureNotSupported,
        psycopg.errors.InsufficientPrivilege,
        psycopg.errors.ObjectNotInPrerequisiteState,
    ):
        # Installed on disk but not preloaded, or not ours to create: plain PostgreSQL path.
        pass


def upgrade(dsn: str, options: StoreOptions | None = None) -> UpgradeReport:
    """Create or upgrade the schema; safe to run any number of times, concurrently too.

    Raises
    ------
    MigrationError
        When an applied migration's file changed, or the files are misnamed.
    """
    options = options or StoreOptions()
    report = UpgradeReport()
    with psycopg.connect(dsn, autocommit=False) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            version: checksum
            for version, checksum in conn.execute(
                "SELECT version, checksum FROM schema_migrations"
            ).fetchall()
        }
        for version, name, entry in _versioned():
            text = entry.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if version in applied:
                if applied[version] != checksum:
                    raise MigrationError(
                        f"migration {version:04d}_{name}.sql was changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            conn.execute(text.encode())  # our own file, run as a script
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (version, name, checksum),
            )
            report.applied.append(f"{version:04d}_{name}")
        _try_create_timescaledb(conn)
        report.timescaledb = has_timescaledb(conn)
        for key, value in vars(options).items():
            conn.execute("SELECT set_config(%s, %s, true)", (f"pogo.{key}", str(value)))
        for entry in _repeatable("timescale" if report.timescaledb else "plain"):
            conn.execute(entry.read_bytes())
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        report.current_version = int(row[0]) if row else 0
    return report


def current_version(dsn: str) -> int | None:
    """The highest applied migration, or None when the schema was never created."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0


def latest_version() -> int:
    """The highest migration version this code ships."""
    return max((v for v, _, _ in _versioned()), default=0)

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
    parameters arrive as transaction-local settings ``pogo.<name>``; a policy is changed only
    when its setting differs from what the database holds, and each change is raised as a
    ``pogo: ...`` notice that the upgrade reports.

The whole upgrade is one transaction under an advisory lock, so two processes upgrading at
once (two ingesters starting together) take turns and the second finds nothing to do. The daily
aggregate is then refreshed over everything not yet materialised, outside that transaction
(TimescaleDB refuses a refresh inside one).

Which store: ``StoreOptions.timescaledb`` is ``auto`` (use TimescaleDB where it is usable, and
say in :attr:`UpgradeReport.plain_reason` why not otherwise), ``require`` (raise
:class:`~fleet.errors.StoreError` naming what is missing) or ``off`` (never create it). A
TimescaleDB version with a known silent-loss bug (:data:`SILENT_LOSS`) is refused in every mode.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

import psycopg

from fleet import queries
from fleet.errors import MigrationError, StoreError
from fleet.riders import RiderKey, StoredRiders, pseudonymise_stored

__all__ = [
    "SILENT_LOSS",
    "StoreOptions",
    "UpgradeReport",
    "delete_old_dead_letters",
    "has_timescaledb",
    "refresh_daily",
    "refuse_lossy",
    "upgrade",
]

_MIGRATIONS = files("fleet") / "migrations"
_VERSIONED = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x706F676F  # 'pogo'

Conn = psycopg.Connection[Any]
TimescaleMode = Literal["auto", "require", "off"]

#: TimescaleDB releases that lose rows without an error: ``(first fixed version, what)``; every
#: version below the first fixed one is refused.
SILENT_LOSS: tuple[tuple[tuple[int, int, int], str], ...] = (
    (
        (2, 18, 1),
        "a multi-row INSERT ... ON CONFLICT DO NOTHING into compressed chunks stops at the "
        "first conflicting row and drops the rest (timescale/timescaledb#7672)",
    ),
)


@dataclass(frozen=True)
class StoreOptions:
    """Which store to use, and the TimescaleDB policy parameters (plain PostgreSQL ignores
    them). ``telemetry_retention_days`` None keeps whatever retention policy the database has;
    0 removes it."""

    telemetry_compress_after_days: int = 7
    telemetry_retention_days: int | None = None
    daily_refresh_window_days: int = 5
    timescaledb: TimescaleMode = "auto"
    #: ``POGO_RIDER_KEY``: raw rider tokens an older version stored are replaced by their
    #: pseudonyms; without it an upgrade that finds any stops and says so.
    rider_key: RiderKey | None = field(default=None, repr=False)


@dataclass
class UpgradeReport:
    """What an upgrade did: the versions it applied, which path it took and why, and every
    TimescaleDB policy it added, changed or removed."""

    applied: list[str] = field(default_factory=list)
    current_version: int = 0
    timescaledb: bool = False
    timescaledb_version: str | None = None
    plain_reason: str | None = None
    changes: list[str] = field(default_factory=list)
    riders: StoredRiders = field(default_factory=StoredRiders)


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


def has_timescaledb(conn: Conn) -> bool:
    """Whether the ``timescaledb`` extension is installed in this database."""
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def _version_tuple(version: str) -> tuple[int, int, int]:
    """``'2.17.2'`` -> ``(2, 17, 2)``; suffixes such as ``-dev`` or ``-p0`` are ignored."""
    major, minor, patch = [*(int(p) for p in re.findall(r"\d+", version.split("-")[0])), 0, 0, 0][
        :3
    ]
    return major, minor, patch


def refuse_lossy(version: str) -> None:
    """Raise :class:`StoreError` when TimescaleDB ``version`` has a known silent-loss bug."""
    found = _version_tuple(version)
    for fixed, what in SILENT_LOSS:
        if found < fixed:
            raise StoreError(
                f"TimescaleDB {version} loses data: {what}; upgrade TimescaleDB to "
                f"{'.'.join(map(str, fixed))} or newer (then ALTER EXTENSION timescaledb "
                "UPDATE) before pogo uses this database"
            )


def _preloaded(conn: Conn) -> bool:
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    names = [p.strip().strip('"').rsplit("/", 1)[-1] for p in str(row[0] if row else "").split(",")]
    return any(n.startswith("timescaledb") for n in names)


_NOT_PRELOADED = (
    "timescaledb is installed on the server but not preloaded: add timescaledb to "
    "shared_preload_libraries in postgresql.conf and restart PostgreSQL"
)


def _choose_timescaledb(conn: Conn, mode: TimescaleMode, report: UpgradeReport) -> None:
    """Decide the path: set ``report.timescaledb`` (creating the extension when usable), or
    ``report.plain_reason``; raise :class:`StoreError` where the mode forbids the outcome."""
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row is not None:
        version = str(row[0])
        if mode == "off":
            raise StoreError(
                f"POGO_TIMESCALEDB is off, but this database already has the timescaledb "
                f"extension ({version}); set POGO_TIMESCALEDB to auto or require"
            )
        if not _preloaded(conn):
            raise StoreError(
                f"this database uses TimescaleDB {version}, which the server does not preload: "
                "add timescaledb to shared_preload_libraries in postgresql.conf and restart "
                "PostgreSQL"
            )
        refuse_lossy(version)
        report.timescaledb, report.timescaledb_version = True, version
        return
    if mode == "off":
        return
    row = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    reason: str | None = None
    if row is None:
        reason = "the timescaledb extension is not installed on this PostgreSQL server"
    elif not _preloaded(conn):
        reason = _NOT_PRELOADED
    else:
        refuse_lossy(str(row[0]))
        try:
            with conn.transaction():  # a savepoint: a refusal leaves the upgrade going
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except (
            psycopg.errors.FeatureNotSupported,
            psycopg.errors.InsufficientPrivilege,
            psycopg.errors.ObjectNotInPrerequisiteState,
        ) as exc:
            reason = f"CREATE EXTENSION timescaledb failed: {exc.diag.message_primary}"
        else:
            report.timescaledb, report.timescaledb_version = True, str(row[0])
            return
    if mode == "require":
        raise StoreError(f"POGO_TIMESCALEDB is require, but {reason}")
    report.plain_reason = reason


def upgrade(dsn: str, options: StoreOptions | None = None) -> UpgradeReport:
    """Create or upgrade the schema; safe to run any number of times, concurrently too.

    Raises
    ------
    MigrationError
        When an applied migration's file changed, or the files are misnamed.
    StoreError
        When the TimescaleDB mode cannot be met, or TimescaleDB is a version that loses data.
    """
    options = options or StoreOptions()
    report = UpgradeReport()

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        if message.startswith("pogo: "):
            report.changes.append(message.removeprefix("pogo: "))

    with psycopg.connect(dsn, autocommit=False) as conn:
        conn.add_notice_handler(on_notice)
        with conn.transaction():
            _upgrade_in_transaction(conn, options, report)
        if report.timescaledb:
            conn.autocommit = True
            _refresh_daily(conn)
    return report


def _upgrade_in_transaction(conn: Conn, options: StoreOptions, report: UpgradeReport) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    # First, before any DDL: in a database holding the extension, DDL on a server that does not
    # preload it fails inside TimescaleDB's loader with an internal error, not our message.
    _choose_timescaledb(conn, options.timescaledb, report)
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
    params = {
        "telemetry_compress_after_days": str(options.telemetry_compress_after_days),
        # '' keeps the database's retention policy as it is.
        "telemetry_retention_days": (
            ""
            if options.telemetry_retention_days is None
            else str(options.telemetry_retention_days)
        ),
        "daily_refresh_window_days": str(options.daily_refresh_window_days),
    }
    for key, value in params.items():
        conn.execute("SELECT set_config(%s, %s, true)", (f"pogo.{key}", value))
    for entry in _repeatable("timescale" if report.timescaledb else "plain"):
        conn.execute(entry.read_bytes())
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    report.current_version = int(row[0]) if row else 0
    _no_raw_riders(conn, options.rider_key, report)


def _no_raw_riders(conn: Conn, key: RiderKey | None, report: UpgradeReport) -> None:
    """Leave no rider token stored as sent: pseudonymise them with ``key``, or stop."""
    if key is not None:
        report.riders = pseudonymise_stored(conn, key)
        return
    for table in queries.RIDER_TABLES:
        if conn.execute(queries.raw_riders(table)).fetchone() is not None:
            raise StoreError(
                f"{table} holds rider tokens stored as sent by an older version; set "
                "POGO_RIDER_KEY so that the upgrade replaces them by their pseudonyms"
            )


def _refresh_daily(conn: Conn) -> None:
    # Only what is invalidated or never materialised is computed, so this is cheap when nothing
    # changed. It stops where the policy's window stops (end_offset), so today stays real-time.
    conn.execute(
        "CALL refresh_continuous_aggregate('telemetry_daily', NULL, now() - INTERVAL '1 hour')"
    )


def refresh_daily(dsn: str) -> bool:
    """Materialise into the daily aggregate whatever a write outside the policy's window (a
    backfill, an import) added; call it after the write committed. False on plain PostgreSQL,
    whose ``telemetry_daily`` is a view and always current."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not has_timescaledb(conn):
            return False
        _refresh_daily(conn)
    return True


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


def delete_old_dead_letters(dsn: str, retention_days: int) -> int:
    """Delete the dead letters last received more than ``retention_days`` ago; how many.

    The trip builder's run calls it (``pogo trips``, the demo): one process at a time does
    the store's housekeeping, off the ingester's commit path.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(queries.DELETE_OLD_DEAD_LETTERS, {"days": retention_days})
        return max(cur.rowcount, 0)

"""Private services for the embedded default (``pogo demo``) and for the tests.

:class:`PrivatePostgres` runs ``initdb`` into a data folder it owns (from the machine's own
PostgreSQL binaries) and a ``postgres`` child process on a free loopback port;
:class:`PrivateMosquitto` runs a ``mosquitto`` child process on a free loopback port with its
persistence in a folder it owns. Both are context managers that stop what they started, and
both run the server as a child of this process, so nothing outlives it.

Their brokers' configuration comes from :mod:`pogo.mosquitto`, the renderer ``pogo broker
config`` uses too: :func:`broker_config` is the open one (anonymous clients, for the tests and
the benchmark's references); a :class:`~pogo.mosquitto.BrokerConfig` gives a secured one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
import structlog
from psycopg import sql

from pogo import mosquitto
from pogo.errors import EmbeddedServiceError
from pogo.mosquitto import BROKER_LIMITS, BrokerConfig

_log = structlog.get_logger("pogo.embedded")

__all__ = [
    "BROKER_LIMITS",
    "PrivateMosquitto",
    "PrivatePostgres",
    "broker_config",
    "default_state_dir",
    "free_port",
]


def default_state_dir() -> Path:
    """Where ``pogo demo`` keeps its data: ``$XDG_STATE_HOME/pogo`` or ``~/.local/state/pogo``.

    Run as root, the private PostgreSQL runs as the ``postgres`` system user (``initdb``
    refuses root), which cannot enter ``/root``; root's state directory is then
    ``/var/lib/pogo``, as for any system service.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/pogo")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pogo"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServiceError(f"{what} exited with code {process.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(f"{what} did not accept connections on port {port} in {timeout}s")


def _stop(process: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_leftover(pid_file: Path, program: bytes, name: str, sig: int) -> None:
    """Stop the ``program`` whose pid ``pid_file`` holds (first line), left by an earlier run
    that was killed before it could stop it; nothing when the file or the process is gone, or
    the pid now belongs to another program."""
    try:
        pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return
    if not any(part.endswith(program) for part in cmdline[:1]):
        return  # the pid was reused by another program: the file is stale
    _log.warning("leftover_stopping", service=name, pid_file=str(pid_file), pid=pid)
    try:
        os.kill(pid, sig)
    except OSError as exc:
        raise EmbeddedServiceError(
            f"a {name} an earlier run left (pid {pid}, {pid_file}) cannot be stopped "
            f"({exc.strerror}); stop it with `kill {pid}` and run again"
        ) from None
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


class _Service:
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def find_postgres_bindir() -> Path:
    """The folder holding ``initdb`` and ``postgres``: ``pg_config --bindir``, Debian's
    ``/usr/lib/postgresql/<newest>/bin``, or ``PATH``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    candidates.extend(reversed(debian))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    raise EmbeddedServiceError(
        "no PostgreSQL server binaries found (initdb and postgres); install PostgreSQL 15 or "
        "newer (Debian: apt-get install postgresql) or set POGO_DATABASE_URL"
    )


class PrivatePostgres(_Service):
    """A PostgreSQL server owned by this process, in ``data_dir``, on a free loopback port."""

    def __init__(self, data_dir: Path, port: int | None = None, database: str = "pogo") -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.database = database
        self.user = "pogo"
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise EmbeddedServiceError(
                    "running as root, the private PostgreSQL needs a 'postgres' system user "
                    "(initdb refuses root)"
                ) from exc

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run_kwargs(self) -> dict[str, object]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._run_as is not None:
            for parent in self.data_dir.resolve().parents:
                if not parent.stat().st_mode & 0o001:
                    raise EmbeddedServiceError(
                        f"the private PostgreSQL runs as 'postgres' (initdb refuses root), which "
                        f"cannot enter {parent}; set POGO_STATE_DIR to a folder it can reach"
                    )
            os.chown(self.data_dir, self._run_as.pw_uid, self._run_as.pw_gid)
        self.data_dir.chmod(0o700)

    def stop_leftover(self) -> None:
        """Stop a server an earlier run left on this data (a killed demo, a closed terminal):
        its ``postmaster.pid`` names it; a pid file whose process is gone is left to PostgreSQL,
        which removes it itself."""
        # SIGINT: PostgreSQL's fast shutdown (roll back, close, write a checkpoint).
        _stop_leftover(self.data_dir / "postmaster.pid", b"postgres", "PostgreSQL", signal.SIGINT)

    def _server_log_tail(self) -> str:
        try:
            lines = (self.data_dir / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines[-20:] if "FATAL" in line or "ERROR" in line]
        return f": {errors[-1].strip()}" if errors else ""

    def start(self) -> None:
        bindir = find_postgres_bindir()
        self._prepare_dir()
        self.stop_leftover()
        if not (self.data_dir / "PG_VERSION").exists():
            result = subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                check=False,
                **self._run_kwargs(),  # type: ignore[call-overload]
            )
            if result.returncode != 0:
                raise EmbeddedServiceError(f"initdb failed: {result.stderr.strip()}")
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "synchronous_commit=on",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the server ourselves
            **self._run_kwargs(),  # type: ignore[call-overload]
        )
        log.close()
        try:
            _wait_for_port(self.port, self.process, "the private PostgreSQL", timeout=60)
        except EmbeddedServiceError as exc:
            raise EmbeddedServiceError(
                f"{exc}{self._server_log_tail()} (its log: {self.data_dir / 'server.log'})"
            ) from None
        self._create_database()

    def _create_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True
                ) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                        )
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT, timeout=30)  # SIGINT: PostgreSQL's fast shutdown


def run_as_user() -> str | None:
    """The ``user`` a broker started by root must keep (Mosquitto drops root for the
    'mosquitto' user, which cannot write our folders); None when not root."""
    return pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None


def broker_config(port: int, persistence_dir: Path, host: str = "127.0.0.1") -> str:
    """An open Mosquitto 2 configuration: one loopback listener, anonymous clients,
    persistence, the project's limits."""
    config = BrokerConfig(
        directory=persistence_dir, port=port, host=host, secured=False, run_as=run_as_user()
    )
    return mosquitto.render(config)[mosquitto.CONF_FILE]


class PrivateMosquitto(_Service):
    """A Mosquitto broker owned by this process, persisting into ``state_dir``.

    ``stop()`` then ``start()`` restarts it on the same port with its persisted sessions and
    queued messages, which is how the tests restart a broker under a running ingester. With
    ``config`` (a :class:`~pogo.mosquitto.BrokerConfig` whose directory is ``state_dir``) it
    writes that configuration (secured, TLS...) instead of the open one; with ``conf`` it
    runs an existing ``mosquitto.conf`` as it is (one written by ``pogo broker config``,
    whose listener is ``port``). :meth:`reload` sends SIGHUP (password and ACL files are
    read again; clients no longer allowed are disconnected).
    """

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        config: BrokerConfig | None = None,
        conf: Path | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.port = port or (config.port if config and config.port else None) or free_port()
        self.config = config
        self.conf = conf
        self.binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        """Write this broker's configuration files; the ``mosquitto.conf`` to run."""
        if self.conf is not None:
            return self.conf
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.config is None:
            conf = self.state_dir / mosquitto.CONF_FILE
            conf.write_text(broker_config(self.port, self.state_dir), encoding="utf-8")
            return conf
        mosquitto.write(self.config)
        return self.config.directory / mosquitto.CONF_FILE

    def start(self) -> None:
        if self.binary is None:
            raise EmbeddedServiceError(
                "no mosquitto binary found; install Mosquitto 2 (Debian: apt-get install "
                "mosquitto) or set POGO_MQTT_URL"
            )
        conf = self.write_config()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A broker a killed run left on this state (its own session: it outlives the run).
        _stop_leftover(self._pid_file, b"mosquitto", "Mosquitto", signal.SIGTERM)
        log = (self.state_dir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._pid_file.write_text(f"{self.process.pid}\n", encoding="utf-8")
        _wait_for_port(self.port, self.process, "the private Mosquitto", timeout=20)

    def reload(self, config: BrokerConfig | None = None) -> None:
        """Write ``config`` (when given, else nothing) and send SIGHUP: Mosquitto reads its
        password and ACL files again without a restart."""
        if config is not None:
            self.config = config
            self.write_config()
        if self.process is None or self.process.poll() is not None:
            raise EmbeddedServiceError("the private Mosquitto is not running")
        self.process.send_signal(signal.SIGHUP)

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "mosquitto.pid"

    def stop(self) -> None:
        # SIGTERM: Mosquitto writes its persistence file before it exits.
        _stop(self.process, signal.SIGTERM, timeout=20)
        self._pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """Stop without saving anything since the last autosave (a crash)."""
        _stop(self.process, signal.SIGKILL, timeout=5)

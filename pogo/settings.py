"""The one settings object: read once at start-up, validated before anything connects.

Every setting comes from a ``POGO_<NAME>`` environment variable, a ``POGO_<NAME>_FILE`` variable
naming a file that holds the value (container secrets), or the optional TOML file named by
``POGO_CONFIG`` (or ``--config``), in that order of precedence. TOML keys are the setting names
in lower case, either flat (``mqtt_url = ...``) or grouped by their first word
(``[mqtt] url = ...``).
"""

from __future__ import annotations

import difflib
import json
import os
import ssl
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg.conninfo
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from fleet.riders import RiderKey
from pogo.errors import SettingsError, UnknownSettingError

__all__ = ["MqttUrl", "Settings", "load_settings"]

ENV_PREFIX = "POGO_"


class MqttUrl(BaseModel):
    """A parsed ``mqtt://[user:pass@]host:port`` or ``mqtts://`` URL."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: SecretStr | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """Parse an MQTT URL, raising ``ValueError`` that says what was expected."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("expected mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("expected a host, as in mqtt://host:1883")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("expected a port number from 1 to 65535") from exc
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
        )

    def url(self) -> str:
        """The URL again, with the password masked: for logs and reports."""
        auth = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{self.host}:{self.port}"


class Settings(BaseModel):
    """Every setting of every ``pogo`` command, typed and validated.

    ``database_url`` and ``mqtt_url`` may be absent only for ``pogo demo``, which then starts
    private services; every other command asks for them through :meth:`require`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Connections.
    database_url: SecretStr | None = None
    mqtt_url: MqttUrl | None = None
    database_pool_size: int = Field(default=4, ge=1, le=100)
    # TLS (mqtts://): the CA that signed the broker's certificate (unset: the system's CAs),
    # and a client certificate and key where the broker asks for one.
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None

    # Rider pseudonyms: the HMAC-SHA256 key (at least 32 characters: openssl rand -hex 32).
    rider_key: SecretStr | None = Field(default=None, min_length=32)
    # Dead letters older than this (since last received) are deleted by the trip builder.
    dead_letter_retention_days: int = Field(default=30, ge=1, le=36_500)

    # Ingester.
    mqtt_client_id: str = Field(default="pogo-ingest", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    mqtt_shared_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    mqtt_topic_root: str = Field(default="pogo/v1", pattern=r"^[A-Za-z0-9_/-]{1,128}$")
    ingest_batch_points: int = Field(default=10_000, ge=1, le=1_000_000)
    ingest_flush_interval_s: float = Field(default=0.25, gt=0, le=60)
    ingest_queue_messages: int = Field(default=20_000, ge=10, le=10_000_000)
    # MQTT 5 Receive Maximum: unacknowledged messages the broker may have in flight to one
    # ingester (acks follow commits, so this bounds what it holds and what a crash redelivers).
    ingest_receive_maximum: int = Field(default=3000, ge=1, le=65535)
    # The largest batch the contract allows (1,000 points, every field at full float
    # precision, RFC 3339 times with an offset and nanoseconds) is ~370 KB; indented, ~420 KB.
    ingest_max_payload_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    ingest_max_future_s: float = Field(default=300.0, ge=0)
    ingest_max_age_days: float = Field(default=3.0, gt=0)
    ingest_metrics_port: int = Field(default=9108, ge=0, le=65535)
    # Defence in depth behind the broker's ACLs: dead-letter (as `unregistered`) what comes
    # from vehicles with no active device registry entry.
    ingest_require_registered: bool = False
    ingest_registry_refresh_s: float = Field(default=30.0, gt=0, le=3600)
    # The metrics endpoint listens on this machine only unless told otherwise (compose: 0.0.0.0).
    ingest_metrics_host: str = Field(default="127.0.0.1", min_length=1, max_length=255)

    # Store. ``timescaledb``: auto uses it where usable (one warning says why not otherwise),
    # require refuses to run without it, off never creates it. The TimescaleDB path reads the
    # policy settings; plain PostgreSQL ignores them. Retention None (unset) keeps whatever
    # policy the database has; 0 removes it; N days sets it.
    timescaledb: Literal["auto", "require", "off"] = "auto"
    telemetry_compress_after_days: int = Field(default=7, ge=1)
    telemetry_retention_days: int | None = Field(default=None, ge=0)
    daily_refresh_window_days: int = Field(default=5, ge=1)

    # Trip builder (``pogo trips``): the emissions profile stored on trips, the --follow
    # interval, and overrides of fleet.rules.TripRules' defaults (TOML: [trips] rules = {...}).
    trips_profile: str = Field(default="ams-iii-c", pattern=r"^[a-z0-9-]{1,64}$")
    trips_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    trips_rules: dict[str, float] = Field(default_factory=dict)

    # Fleet alerts, evaluated by every trip-builder run: the two thresholds, overrides of the
    # rest of fleet.alerts.AlertRules' defaults (TOML: [alert] rules = {...}), and the webhook
    # (URL and HMAC key together; the URL may carry a token, so it is a secret too).
    alert_offline_after_s: float = Field(default=1800.0, gt=0, le=30 * 86_400)
    alert_low_battery_pct: float = Field(default=20.0, gt=0, lt=100)
    alert_rules: dict[str, float] = Field(default_factory=dict)
    alert_webhook_url: SecretStr | None = None
    alert_webhook_secret: SecretStr | None = Field(default=None, min_length=16)
    alert_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    alert_webhook_budget_s: float = Field(default=10.0, gt=0, le=600)

    # City service.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    api_write_token: SecretStr | None = None
    api_read_token: SecretStr | None = None
    api_operator_token: SecretStr | None = None
    # Request bodies over this many bytes get 413 before they are read whole.
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)

    # City interoperability (MDS 2.0 under /mds/, GBFS 3.0 under /gbfs/): the city's time zone
    # (MDS monthly reports count in it; GBFS states it), the provider's MDS UUID (unset: one
    # derived from the project's namespace), the GBFS feed's technical contact, and the key of
    # the GBFS vehicle ids (32+ characters; unset: a new key at every start, so ids change then).
    city_timezone: str = Field(default="Africa/Casablanca", min_length=1, max_length=64)
    mds_provider_id: UUID | None = None
    gbfs_contact_email: str = Field(
        default="fleet@pogo.invalid", pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$"
    )
    gbfs_vehicle_key: SecretStr | None = Field(default=None, min_length=32)

    # Process.
    state_dir: Path | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _libpq_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not raw.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a libpq URL such as postgresql://user@host:5432/pogo")
        try:
            psycopg.conninfo.conninfo_to_dict(raw)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"not a valid libpq URL ({exc})") from exc
        return value

    @field_validator("city_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone name such as Africa/Casablanca") from None
        return value

    @field_validator("trips_rules", "alert_rules", mode="before")
    @classmethod
    def _rules_from_text(cls, value: Any) -> Any:
        # From the environment the rules come as a JSON object: {"min_parking_s": 300}.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f'a JSON object such as {{"min_parking_s": 300}} ({exc})') from exc
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _webhook_signed(self) -> Settings:
        if (self.alert_webhook_url is None) != (self.alert_webhook_secret is None):
            missing = (
                "POGO_ALERT_WEBHOOK_SECRET"
                if self.alert_webhook_secret is None
                else "POGO_ALERT_WEBHOOK_URL"
            )
            raise SettingsError(
                missing, None, "a value (the webhook URL and its secret go together)"
            )
        return self

    @field_validator("mqtt_url", mode="before")
    @classmethod
    def _mqtt_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            return MqttUrl.parse(value)
        return value

    @model_validator(mode="after")
    def _mqtt_tls(self) -> Settings:
        files = {
            "POGO_MQTT_CA_FILE": self.mqtt_ca_file,
            "POGO_MQTT_CERT_FILE": self.mqtt_cert_file,
            "POGO_MQTT_KEY_FILE": self.mqtt_key_file,
        }
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise SettingsError(name, str(path), "a readable PEM file")
        given = [name for name, path in files.items() if path is not None]
        if given and (self.mqtt_url is None or not self.mqtt_url.tls):
            raise SettingsError(given[0], str(files[given[0]]), "POGO_MQTT_URL with mqtts://")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            missing = "POGO_MQTT_KEY_FILE" if self.mqtt_key_file is None else "POGO_MQTT_CERT_FILE"
            raise SettingsError(missing, None, "a value (client certificate and key go together)")
        try:
            context = ssl.create_default_context(
                cafile=str(self.mqtt_ca_file) if self.mqtt_ca_file else None
            )
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(
                "POGO_MQTT_CA_FILE", str(self.mqtt_ca_file), f"a CA certificate in PEM ({exc})"
            ) from None
        if self.mqtt_cert_file is not None:
            try:
                context.load_cert_chain(str(self.mqtt_cert_file), str(self.mqtt_key_file))
            except (ssl.SSLError, OSError) as exc:
                raise SettingsError(
                    "POGO_MQTT_CERT_FILE",
                    str(self.mqtt_cert_file),
                    f"a PEM certificate matching POGO_MQTT_KEY_FILE ({exc})",
                ) from None
        return self

    @model_validator(mode="after")
    def _timescale_windows(self) -> Settings:
        # A point older than ingest_max_age_days is dead-lettered, so offline buffering never
        # lands in a compressed chunk as long as compression waits longer than that.
        if self.telemetry_compress_after_days <= self.ingest_max_age_days:
            raise SettingsError(
                "POGO_TELEMETRY_COMPRESS_AFTER_DAYS",
                self.telemetry_compress_after_days,
                f"more than POGO_INGEST_MAX_AGE_DAYS ({self.ingest_max_age_days:g}), so late "
                "points never land in compressed chunks",
            )
        # The daily aggregate's policy must refresh every day the ingester still accepts late
        # points into, or a late point would stay out of the aggregate until the next backfill.
        if self.daily_refresh_window_days <= self.ingest_max_age_days:
            raise SettingsError(
                "POGO_DAILY_REFRESH_WINDOW_DAYS",
                self.daily_refresh_window_days,
                f"more than POGO_INGEST_MAX_AGE_DAYS ({self.ingest_max_age_days:g}), so every "
                "late point the ingester accepts is refreshed into the daily aggregate",
            )
        # Retention dropping raw chunks inside the daily aggregate's refresh window would
        # silently delete aggregate history.
        retention = self.telemetry_retention_days or 0
        if 0 < retention <= self.daily_refresh_window_days:
            raise SettingsError(
                "POGO_TELEMETRY_RETENTION_DAYS",
                self.telemetry_retention_days,
                f"0 (keep forever) or more than POGO_DAILY_REFRESH_WINDOW_DAYS "
                f"({self.daily_refresh_window_days})",
            )
        return self

    def require(self, *names: str) -> None:
        """Stop with a :class:`SettingsError` naming the first of ``names`` that is unset."""
        for name in names:
            if getattr(self, name) is None:
                raise SettingsError(env_name(name), None, "a value (it is required here)")

    @property
    def dsn(self) -> str:
        """The database URL; :meth:`require` it first."""
        self.require("database_url")
        assert self.database_url is not None  # for mypy: require() raised otherwise
        return self.database_url.get_secret_value()

    @property
    def rider(self) -> RiderKey:
        """The rider pseudonyms' key; :meth:`require` it first."""
        self.require("rider_key")
        assert self.rider_key is not None  # for mypy: require() raised otherwise
        return RiderKey(self.rider_key.get_secret_value().encode())

    @property
    def mqtt(self) -> MqttUrl:
        """The broker URL; :meth:`require` it first."""
        self.require("mqtt_url")
        assert self.mqtt_url is not None  # for mypy: require() raised otherwise
        return self.mqtt_url


def env_name(field: str) -> str:
    """``mqtt_url`` -> ``POGO_MQTT_URL``."""
    return ENV_PREFIX + field.upper()


def _flatten_toml(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                flat[f"{key}_{sub}"] = sub_value
        else:
            flat[key] = value
    unknown = sorted(set(flat) - set(Settings.model_fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], Settings.model_fields, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see the README's configuration table"
        raise UnknownSettingError(str(path), unknown[0], hint)
    return flat


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read, merge and validate the settings.

    Parameters
    ----------
    environ
        The environment to read; ``os.environ`` when None. Tests pass their own mapping.
    config_file
        A TOML file; when None, ``POGO_CONFIG`` names one, or there is none.

    Raises
    ------
    SettingsError
        Naming the first wrong setting, its value and what was expected.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["POGO_CONFIG"]) if env.get("POGO_CONFIG") else None)
    if path is not None:
        try:
            with path.open("rb") as handle:
                values.update(_flatten_toml(tomllib.load(handle), path))
        except FileNotFoundError as exc:
            raise SettingsError("POGO_CONFIG", str(path), "an existing TOML file") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError("POGO_CONFIG", str(path), f"valid TOML ({exc})") from exc
    sources: dict[str, str] = {}
    for field in Settings.model_fields:
        name = env_name(field)
        file_var = name + "_FILE"
        if env.get(file_var):
            try:
                values[field] = Path(env[file_var]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(file_var, env[file_var], f"a readable file ({exc})") from exc
            sources[field] = file_var
        elif name in env and env[name] != "":
            values[field] = env[name]
            sources[field] = name
    try:
        return Settings.model_validate(values)
    except SettingsError:
        raise
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        name = sources.get(field, env_name(field) if field else "settings")
        secret = any(word in field for word in ("url", "token", "key", "password", "secret"))
        shown: object = "<hidden>" if secret else values.get(field)
        if field == "mqtt_url" and isinstance(values.get(field), str):
            shown = _mask_url(values[field])
        if field == "database_url" and isinstance(values.get(field), str):
            shown = _mask_url(values[field])
        message = _expected(str(error["msg"]))
        raise SettingsError(name, shown, message) from None


def _expected(message: str) -> str:
    """pydantic's message as what was expected: 'Input should be a valid integer' -> 'a valid
    integer'."""
    message = message.removeprefix("Value error, ").removeprefix("expected ")
    message = message.removeprefix("Input should be ")
    if message.startswith("String should match pattern"):
        message = "a value matching " + message.removeprefix("String should match ")
    return message


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url

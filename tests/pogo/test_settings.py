"""Settings: typed, validated before anything connects, errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pogo.errors import SettingsError
from pogo.settings import load_settings

GOOD = {
    "POGO_DATABASE_URL": "postgresql://pogo:s3cret@db.example:5432/pogo",
    "POGO_MQTT_URL": "mqtt://ingest:pw@broker.example:1883",
}


def test_reads_environment_into_typed_values() -> None:
    """POGO_* variables become typed fields; the broker URL is parsed into its parts."""
    settings = load_settings(environ={**GOOD, "POGO_INGEST_BATCH_POINTS": "250"})
    assert settings.ingest_batch_points == 250
    assert settings.mqtt.host == "broker.example"
    assert settings.mqtt.port == 1883
    assert settings.mqtt.username == "ingest"
    assert not settings.mqtt.tls


def test_secrets_hidden_from_repr() -> None:
    """Passwords in URLs and tokens never appear in the settings' repr."""
    settings = load_settings(environ={**GOOD, "POGO_API_WRITE_TOKEN": "tok-123"})
    text = repr(settings)
    assert "s3cret" not in text
    assert "tok-123" not in text
    assert "pw@" not in text and ":pw" not in text


def test_mqtts_defaults_to_port_8883() -> None:
    """mqtts:// means TLS, on 8883 unless a port is given."""
    settings = load_settings(environ={"POGO_MQTT_URL": "mqtts://broker.example"})
    assert settings.mqtt.tls and settings.mqtt.port == 8883


@pytest.mark.parametrize(
    ("env", "setting", "fragment"),
    [
        ({"POGO_MQTT_URL": "tcp://x"}, "POGO_MQTT_URL", "mqtt:// or mqtts://"),
        ({"POGO_MQTT_URL": "mqtt://:1883"}, "POGO_MQTT_URL", "a host"),
        ({"POGO_MQTT_URL": "mqtt://h:99999"}, "POGO_MQTT_URL", "port"),
        ({"POGO_DATABASE_URL": "mysql://x/y"}, "POGO_DATABASE_URL", "libpq URL"),
        ({"POGO_INGEST_BATCH_POINTS": "many"}, "POGO_INGEST_BATCH_POINTS", "integer"),
        ({"POGO_INGEST_BATCH_POINTS": "0"}, "POGO_INGEST_BATCH_POINTS", "greater than"),
        ({"POGO_HTTP_PORT": "70000"}, "POGO_HTTP_PORT", "less than"),
        ({"POGO_LOG_LEVEL": "loud"}, "POGO_LOG_LEVEL", "'debug'"),
        ({"POGO_MQTT_CLIENT_ID": "bad id!"}, "POGO_MQTT_CLIENT_ID", "pattern"),
        ({"POGO_NO_SUCH_THING": "1", "POGO_CONFIG": ""}, None, None),
    ],
)
def test_bad_setting_is_named(
    env: dict[str, str], setting: str | None, fragment: str | None
) -> None:
    """A wrong setting raises SettingsError naming the variable, its value and what was expected."""
    if setting is None:
        load_settings(environ=env)  # unknown POGO_ variables that are not settings are ignored
        return
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=env)
    message = str(caught.value)
    assert message.startswith(setting + " ")
    assert fragment is not None and fragment in message


def test_password_masked_in_error() -> None:
    """An error about a URL shows the URL with its password masked."""
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"POGO_MQTT_URL": "tcp://u:hunter2@h:1"})
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def test_required_setting_named_when_missing() -> None:
    """A command that needs the database names POGO_DATABASE_URL when it is unset."""
    settings = load_settings(environ={})
    with pytest.raises(SettingsError, match=r"^POGO_DATABASE_URL unset"):
        settings.require("database_url")


def test_toml_file_flat_and_grouped_keys(tmp_path: Path) -> None:
    """A TOML file supplies settings, flat or grouped by first word; the environment
    overrides it."""
    config = tmp_path / "pogo.toml"
    config.write_text(
        'mqtt_url = "mqtt://from-file:1883"\n'
        "[ingest]\nbatch_points = 123\nflush_interval_s = 0.5\n",
        encoding="utf-8",
    )
    settings = load_settings(environ={"POGO_CONFIG": str(config)})
    assert settings.mqtt.host == "from-file"
    assert settings.ingest_batch_points == 123
    assert settings.ingest_flush_interval_s == 0.5
    overridden = load_settings(
        environ={"POGO_CONFIG": str(config), "POGO_INGEST_BATCH_POINTS": "7"}
    )
    assert overridden.ingest_batch_points == 7


def test_toml_unknown_key_is_named(tmp_path: Path) -> None:
    """An unknown key in the TOML file is an error naming the file and the key."""
    config = tmp_path / "pogo.toml"
    config.write_text("[ingest]\nbatch_pionts = 5\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="ingest_batch_pionts"):
        load_settings(environ={"POGO_CONFIG": str(config)})


def test_missing_or_broken_toml_file(tmp_path: Path) -> None:
    """POGO_CONFIG naming a missing or malformed file is named in the error."""
    with pytest.raises(SettingsError, match=r"^POGO_CONFIG is .*existing TOML file"):
        load_settings(environ={"POGO_CONFIG": str(tmp_path / "absent.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("mqtt_url = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="valid TOML"):
        load_settings(environ={"POGO_CONFIG": str(broken)})


def test_file_variant_for_container_secrets(tmp_path: Path) -> None:
    """POGO_X_FILE reads the value of POGO_X from a file (docker secrets)."""
    secret = tmp_path / "token"
    secret.write_text("from-a-secret\n", encoding="utf-8")
    settings = load_settings(environ={"POGO_API_WRITE_TOKEN_FILE": str(secret)})
    assert settings.api_write_token is not None
    assert settings.api_write_token.get_secret_value() == "from-a-secret"
    with pytest.raises(SettingsError, match="POGO_API_READ_TOKEN_FILE"):
        load_settings(environ={"POGO_API_READ_TOKEN_FILE": str(tmp_path / "nope")})


def test_timescale_windows_are_consistent() -> None:
    """Compression must wait longer than the oldest accepted point; retention must outlast the
    aggregate's refresh window."""
    with pytest.raises(SettingsError, match="POGO_TELEMETRY_COMPRESS_AFTER_DAYS"):
        load_settings(
            environ={"POGO_TELEMETRY_COMPRESS_AFTER_DAYS": "2", "POGO_INGEST_MAX_AGE_DAYS": "3"}
        )
    with pytest.raises(SettingsError, match="POGO_TELEMETRY_RETENTION_DAYS"):
        load_settings(
            environ={"POGO_TELEMETRY_RETENTION_DAYS": "3", "POGO_DAILY_REFRESH_WINDOW_DAYS": "5"}
        )


def test_daily_refresh_window_covers_late_points() -> None:
    """The daily aggregate's refresh window must reach further back than the ingester accepts
    late points; retention unset stays None (keep the database's policy), 0 is kept as 0."""
    with pytest.raises(SettingsError, match="POGO_DAILY_REFRESH_WINDOW_DAYS"):
        load_settings(
            environ={"POGO_DAILY_REFRESH_WINDOW_DAYS": "3", "POGO_INGEST_MAX_AGE_DAYS": "3"}
        )
    assert load_settings(environ={}).telemetry_retention_days is None
    removed = load_settings(environ={"POGO_TELEMETRY_RETENTION_DAYS": "0"})
    assert removed.telemetry_retention_days == 0


def test_timescaledb_mode_is_one_of_three() -> None:
    """POGO_TIMESCALEDB is auto (default), require or off; anything else is named."""
    assert load_settings(environ={}).timescaledb == "auto"
    assert load_settings(environ={"POGO_TIMESCALEDB": "require"}).timescaledb == "require"
    with pytest.raises(SettingsError, match="POGO_TIMESCALEDB"):
        load_settings(environ={"POGO_TIMESCALEDB": "yes"})


def test_trip_rules_from_environment_as_json() -> None:
    """POGO_TRIPS_RULES takes a JSON object; anything else is named with what was expected."""
    settings = load_settings(environ={"POGO_TRIPS_RULES": '{"min_parking_s": 300}'})
    assert settings.trips_rules == {"min_parking_s": 300.0}
    with pytest.raises(SettingsError, match=r"^POGO_TRIPS_RULES is .*a JSON object"):
        load_settings(environ={"POGO_TRIPS_RULES": "min_parking_s=300"})


def test_tls_files_are_checked_before_anything_connects(tmp_path: Path) -> None:
    """POGO_MQTT_CA_FILE and the client certificate: a missing or unreadable file, one
    without mqtts://, a certificate without its key, or a file that is not PEM each stop
    start-up naming the setting."""
    pem = tmp_path / "not-a-ca.pem"
    pem.write_text("not a certificate\n")
    base = {"POGO_MQTT_URL": "mqtts://u:p@broker:8883"}
    cases = [
        ({"POGO_MQTT_CA_FILE": str(tmp_path / "missing.pem")}, "POGO_MQTT_CA_FILE"),
        ({"POGO_MQTT_CA_FILE": str(pem)}, "POGO_MQTT_CA_FILE"),
        ({"POGO_MQTT_CERT_FILE": str(pem)}, "POGO_MQTT_KEY_FILE"),
        ({"POGO_MQTT_CA_FILE": str(pem), "POGO_MQTT_URL": "mqtt://u:p@broker:1883"},
         "POGO_MQTT_CA_FILE"),
    ]  # fmt: skip
    for env, name in cases:
        with pytest.raises(SettingsError) as caught:
            load_settings(environ={**base, **env})
        assert str(caught.value).startswith(name), caught.value
        assert ":p@" not in str(caught.value)


def test_interop_settings_reach_the_service() -> None:
    """The city's time zone, MDS provider id, GBFS contact and GBFS id key are read, checked
    and handed to the service; the key never shows in a repr or an error."""
    from pogo.commands.serve import service_config

    key = "gbfs-key-0123456789abcdef0123456789"
    settings = load_settings(
        {
            "POGO_DATABASE_URL": "postgresql://u@h/db",
            "POGO_CITY_TIMEZONE": "Europe/Paris",
            "POGO_MDS_PROVIDER_ID": "3C9604D6-B5EE-11E8-96F8-529269FB1459",
            "POGO_GBFS_CONTACT_EMAIL": "ops@example.org",
            "POGO_GBFS_VEHICLE_KEY": key,
        }
    )
    config = service_config(settings)
    assert config.city_timezone == "Europe/Paris"
    assert config.mds_provider_id == "3c9604d6-b5ee-11e8-96f8-529269fb1459"
    assert config.gbfs_contact_email == "ops@example.org"
    assert config.gbfs_vehicle_key == key.encode()
    assert key not in repr(settings) and key not in repr(config)
    for name, value in (
        ("POGO_CITY_TIMEZONE", "Mars/Olympus"),
        ("POGO_MDS_PROVIDER_ID", "not-a-uuid"),
        ("POGO_GBFS_CONTACT_EMAIL", "nobody"),
        ("POGO_GBFS_VEHICLE_KEY", "short"),
    ):
        with pytest.raises(SettingsError, match=name) as caught:
            load_settings({name: value})
        assert name != "POGO_GBFS_VEHICLE_KEY" or "short" not in str(caught.value)


def test_alert_settings_typed_with_the_webhook_secret_hidden(tmp_path: Path) -> None:
    """The alert thresholds are typed; POGO_ALERT_RULES takes a JSON object; the webhook URL
    (which may hold a token) and its secret are hidden from repr and may come from *_FILE."""
    secret_file = tmp_path / "hook-secret"
    secret_file.write_text("0123456789abcdef-secret\n")
    settings = load_settings(
        environ={
            "POGO_ALERT_OFFLINE_AFTER_S": "600",
            "POGO_ALERT_LOW_BATTERY_PCT": "15",
            "POGO_ALERT_RULES": '{"confirm_fixes": 5}',
            "POGO_ALERT_WEBHOOK_URL": "https://hooks.example/T0K3N",
            "POGO_ALERT_WEBHOOK_SECRET_FILE": str(secret_file),
        }
    )
    assert settings.alert_offline_after_s == 600.0
    assert settings.alert_low_battery_pct == 15.0
    assert settings.alert_rules == {"confirm_fixes": 5.0}
    assert settings.alert_webhook_secret is not None
    assert settings.alert_webhook_secret.get_secret_value() == "0123456789abcdef-secret"
    assert "T0K3N" not in repr(settings) and "0123456789abcdef" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "setting", "fragment"),
    [
        ({"POGO_ALERT_LOW_BATTERY_PCT": "120"}, "POGO_ALERT_LOW_BATTERY_PCT", "less than"),
        ({"POGO_ALERT_OFFLINE_AFTER_S": "0"}, "POGO_ALERT_OFFLINE_AFTER_S", "greater than"),
        (
            {"POGO_ALERT_WEBHOOK_URL": "ftp://x/T0K3N", "POGO_ALERT_WEBHOOK_SECRET": "s" * 16},
            "POGO_ALERT_WEBHOOK_URL",
            "http:// or https://",
        ),
        ({"POGO_ALERT_WEBHOOK_URL": "https://h/T0K3N"}, "POGO_ALERT_WEBHOOK_SECRET", "together"),
        ({"POGO_ALERT_WEBHOOK_SECRET": "s" * 16}, "POGO_ALERT_WEBHOOK_URL", "together"),
        (
            {"POGO_ALERT_WEBHOOK_URL": "https://h/T0K3N", "POGO_ALERT_WEBHOOK_SECRET": "short"},
            "POGO_ALERT_WEBHOOK_SECRET",
            "at least 16",
        ),
    ],
)
def test_bad_alert_setting_is_named_without_the_secret(
    env: dict[str, str], setting: str, fragment: str
) -> None:
    """A wrong alert setting stops start-up naming it; the webhook's URL and secret are
    never shown."""
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=env)
    message = str(caught.value)
    assert message.startswith(setting + " ") and fragment in message
    assert "T0K3N" not in message and "short" not in message.replace("at least", "")

"""Errors of the ``pogo`` command layer."""

from __future__ import annotations

__all__ = [
    "BackfillError",
    "EmbeddedServiceError",
    "PogoError",
    "SettingsError",
    "UnavailableError",
    "UnknownSettingError",
    "database_unreachable",
]


class PogoError(Exception):
    """Root of the command layer's errors: the CLI prints them and exits non-zero."""


class SettingsError(PogoError):
    """A setting is missing or wrong; raised before anything connects.

    The message names the setting, the bad value and what was expected:
    ``POGO_MQTT_URL is 'tcp://x'; expected mqtt:// or mqtts://``.
    """

    def __init__(self, setting: str, value: object, expected: str) -> None:
        self.setting = setting
        self.value = value
        self.expected = expected
        shown = "unset" if value is None else f"is {value!r}"
        super().__init__(f"{setting} {shown}; expected {expected}")


class UnknownSettingError(SettingsError):
    """A settings file names a key that is no setting. The message never shows the key's value
    (a misspelled key may well hold a token or a password)."""

    def __init__(self, where: str, key: str, hint: str) -> None:
        PogoError.__init__(self, f"{where}: {key!r} is not a setting; {hint}")
        self.setting = key
        self.value = None
        self.expected = hint


class UnavailableError(PogoError):
    """A service the command needs is unreachable or refused it (the database, the broker), or
    the address it must listen on is taken. The CLI exits with status 3 for these."""


class EmbeddedServiceError(PogoError):
    """A private PostgreSQL or Mosquitto of ``pogo demo`` (or of the tests) could not start."""


class BackfillError(PogoError):
    """Writing a simulated history into the database failed (schema missing, rows refused)."""


def database_unreachable(exc: BaseException) -> str:
    """libpq's first line (it names the host and port, never the password) and what to change."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"the database is unreachable or refused the connection ({detail}); check POGO_DATABASE_URL"
    )

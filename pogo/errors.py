"""Errors of the ``pogo`` command layer."""

from __future__ import annotations

__all__ = ["EmbeddedServiceError", "PogoError", "SettingsError"]


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


class EmbeddedServiceError(PogoError):
    """A private PostgreSQL or Mosquitto of ``pogo demo`` (or of the tests) could not start."""

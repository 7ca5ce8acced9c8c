"""The ``pogo`` command: settings, logging, private services and the sub-commands."""

from pogo.errors import PogoError, SettingsError
from pogo.settings import Settings, load_settings

__all__ = ["PogoError", "Settings", "SettingsError", "load_settings"]

"""What every sub-command shares: the settings, read once, and the error boundary."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import click

from fleet import StoreOptions
from pogo.logs import configure_logging
from pogo.settings import Settings, load_settings

__all__ = ["AppContext", "long_running", "pass_settings", "store_options"]

P = ParamSpec("P")
R = TypeVar("R")


class AppContext:
    """Holds the ``--config`` path and the settings, loaded on first use."""

    def __init__(self, config_file: Path | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file)
            configure_logging(self._settings.log_format, self._settings.log_level)
        return self._settings


def get_settings() -> Settings:
    """The settings of the running command (validated on first call)."""
    return click.get_current_context().ensure_object(AppContext).settings


def pass_settings(func: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Decorator: call the command with the validated settings as its first argument."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return func(get_settings(), *args, **kwargs)

    return wrapper


def store_options(settings: Settings) -> StoreOptions:
    """The store's TimescaleDB policy parameters, from the settings."""
    return StoreOptions(
        telemetry_compress_after_days=settings.telemetry_compress_after_days,
        telemetry_retention_days=settings.telemetry_retention_days,
        daily_refresh_window_days=settings.daily_refresh_window_days,
        timescaledb=settings.timescaledb,
        rider_key=None if settings.rider_key is None else settings.rider,
    )


def long_running() -> None:
    """Garbage collection for a process that serves for days (``pogo ingest``, ``pogo serve``):
    what start-up made is frozen out of every collection, and young objects are collected
    rarely. Both allocate thousands of short-lived objects a second (decoded messages,
    requests) that reference counting frees, and with the default thresholds a full
    collection over everything imported ran every few seconds, pausing the process for up
    to 100 ms: the ingester's batches waited, and on the city service the slowest of 50
    clients' requests (p99 83-113 ms for emissions over new windows, 40-42 ms without)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)

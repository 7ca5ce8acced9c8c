"""``pogo serve``: the city service under uvicorn."""

from __future__ import annotations

import click
from pydantic import SecretStr

from city import ServiceConfig, run
from pogo.commands._context import long_running, pass_settings
from pogo.settings import Settings

__all__ = ["serve", "service_config"]


def service_config(settings: Settings, dsn: str | None = None) -> ServiceConfig:
    """The service's configuration from the settings (``dsn`` overrides the database URL)."""

    def secret(value: SecretStr | None) -> str | None:
        return None if value is None else value.get_secret_value()

    return ServiceConfig(
        dsn=dsn or settings.dsn,
        pool_size=settings.database_pool_size,
        write_token=secret(settings.api_write_token),
        read_token=secret(settings.api_read_token),
        operator_token=secret(settings.api_operator_token),
        max_body_bytes=settings.api_max_body_bytes,
        city_timezone=settings.city_timezone,
        mds_provider_id=None if settings.mds_provider_id is None else str(settings.mds_provider_id),
        gbfs_contact_email=settings.gbfs_contact_email,
        gbfs_vehicle_key=None
        if settings.gbfs_vehicle_key is None
        else settings.gbfs_vehicle_key.get_secret_value().encode(),
        low_battery_pct=settings.alert_low_battery_pct,
    )


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: POGO_HTTP_HOST).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: POGO_HTTP_PORT).",
)
@pass_settings
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the city service (JSON API, report page, CSV, /metrics) until SIGTERM/SIGINT."""
    settings.require("database_url")
    long_running()
    run(
        service_config(settings),
        host=host or settings.http_host,
        port=settings.http_port if port is None else port,
        log_level=settings.log_level,
    )

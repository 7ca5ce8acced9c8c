"""The service's configuration: a plain dataclass the command layer builds from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ServiceConfig"]


@dataclass(frozen=True)
class ServiceConfig:
    """What the city service needs to run.

    Attributes
    ----------
    dsn
        The libpq URL of the store.
    pool_size
        Connections in the service's pool.
    write_token, read_token
        Bearer tokens. Editing a programme table needs ``write_token`` (no editing when it is
        None); reading needs ``read_token`` only when it is set (the write token reads too).
    operator_token
        The one token that sees rider pseudonyms and exact distinct-rider counts below 10.
    max_window_days
        The longest ``[from, to)`` window a request may ask for.
    max_buckets
        The most buckets a time series or a grouped emissions report may return.
    max_page_size
        The largest ``limit`` of a page of trips.
    low_battery_pct
        State of charge below which ``pogo_vehicles_low_battery`` counts a vehicle.
    cache_entries
        Serialised answers kept in memory while the trips table is unchanged (0: none kept,
        and every figure request goes through routing; the trip index is loaded once per
        data version either way).
    cache_check_interval_s
        How often the cache reads the trips table's change counter: figures are at most this
        far behind the table (0: read it on every request).
    city_timezone
        The city's IANA time zone: MDS monthly reports count in it, GBFS states it.
    mds_provider_id
        The provider's MDS UUID (None: one derived from the project's namespace).
    gbfs_contact_email
        The GBFS feed's technical contact.
    gbfs_vehicle_key
        The key of the rotating GBFS vehicle ids (None: a new random key at each start).
    max_body_bytes
        The largest request body the service reads; a longer one gets 413 before it is read
        whole or its sender authenticated.
    emissions_profile
        The methodology profile the emissions endpoint applies when none is asked for; None
        reports the per-trip figures the trip builder stored.
    """

    dsn: str = field(repr=False)
    pool_size: int = 4
    write_token: str | None = field(default=None, repr=False)
    read_token: str | None = field(default=None, repr=False)
    operator_token: str | None = field(default=None, repr=False)
    max_window_days: int = 3660
    max_buckets: int = 1500
    max_page_size: int = 1000
    low_battery_pct: float = 20.0
    cache_entries: int = 1024
    cache_check_interval_s: float = 0.2
    emissions_profile: str | None = None
    max_body_bytes: int = 64 * 1024
    city_timezone: str = "Africa/Casablanca"
    mds_provider_id: str | None = None
    gbfs_contact_email: str = "fleet@pogo.invalid"
    gbfs_vehicle_key: bytes | None = field(default=None, repr=False)

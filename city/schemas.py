"""The JSON shapes of the API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "Alert",
    "AlertPage",
    "Change",
    "ChangeList",
    "EmissionsGroup",
    "EmissionsReport",
    "Figures",
    "Health",
    "Indicator",
    "IndicatorPatch",
    "IndicatorWrite",
    "LearningCity",
    "Methodology",
    "Parameter",
    "Programme",
    "Readiness",
    "Summary",
    "Timeseries",
    "TimeseriesPoint",
    "Trip",
    "TripPage",
    "Vehicle",
    "VehicleList",
]

Qualifier = Literal["more than", "less than", "about", "at least", "at most"]


def _storable(value: str) -> str:
    """Text PostgreSQL can store: UTF-8 encodable, without NUL characters."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


_Storable = AfterValidator(_storable)
Label = Annotated[str, Field(min_length=1, max_length=200), _Storable]
Unit = Annotated[str, Field(max_length=40), _Storable]
Period = Annotated[str, Field(max_length=80), _Storable]
Source = Annotated[str, Field(max_length=300), _Storable]
Editor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="Who makes the change (a name or role), kept in the change log.",
    ),
    _Storable,
]


class Window(BaseModel):
    start: datetime = Field(description="Inclusive.")
    end: datetime = Field(description="Exclusive.")


class Figures(BaseModel):
    """The figures of the trips that started in a window."""

    trips: int
    distance_km: float
    riders: int | None = Field(
        description="Distinct pseudonymous riders (trips without one: none). Null when below "
        "10 (k-anonymity, k = 10, as MDS does for cities), except for the operator token."
    )
    vehicles_active: int
    energy_kwh: float = Field(description="Battery energy used, where the trips carry it.")
    trips_without_energy: int
    duration_s: float
    co2_avoided_kg: float = Field(description="As stored per trip by the trip builder.")


class Summary(BaseModel):
    window: Window
    figures: Figures


class TimeseriesPoint(Figures):
    bucket_start: datetime
    bucket_end: datetime


class Timeseries(BaseModel):
    window: Window
    bucket: Literal["hour", "day", "week", "month"]
    points: list[TimeseriesPoint]


class Parameter(BaseModel):
    name: str
    value: float
    unit: str
    source: str
    note: str = ""
    share: float | None = Field(default=None, description="A displaced mode's share of km.")


class Methodology(BaseModel):
    profile: str = Field(description="'stored' = the per-trip figures the trip builder stored.")
    version: str | None = Field(description="The profile's version (None for 'stored').")
    label: str
    calibration: bool = Field(description="True when the profile is fitted to a reported figure.")
    parameters: list[Parameter]
    stored_methodologies: dict[str, int] = Field(
        description="Methodology versions on the window's trips, with their trip counts."
    )
    explanation: str


class EmissionsTotals(BaseModel):
    trips: int
    distance_km: float
    energy_kwh: float
    co2_baseline_kg: float = Field(description="Gross: emissions of the displaced modes.")
    co2_electricity_kg: float = Field(description="Emissions of the electricity used.")
    co2_avoided_kg: float = Field(description="Net: baseline minus electricity.")
    avoided_g_per_km: float | None


class EmissionsGroup(EmissionsTotals):
    start: datetime
    end: datetime


class EmissionsReport(BaseModel):
    window: Window
    group_by: Literal["day", "month", "year"]
    methodology: Methodology
    totals: EmissionsTotals
    groups: list[EmissionsGroup]


class Indicator(BaseModel):
    indicator_id: str
    label: str
    value: float | None
    qualifier: str | None
    unit: str
    period: str
    source: str
    sort: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None


class Programme(BaseModel):
    programme_id: str
    name: str
    description: str
    live: bool = Field(description="True for the table measured from the fleet's telemetry.")
    indicators: list[Indicator]


class LearningCity(BaseModel):
    window: Window | None = Field(description="The live table's window (None: no trips yet).")
    programmes: list[Programme]


class IndicatorWrite(BaseModel):
    """A whole indicator (PUT creates or replaces it)."""

    model_config = ConfigDict(extra="forbid")

    label: Label
    value: float | None = Field(allow_inf_nan=False, ge=-1e15, le=1e15)
    qualifier: Qualifier | None = None
    unit: Unit = ""
    period: Period = ""
    source: Source = ""
    sort: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    editor: Editor


class IndicatorPatch(BaseModel):
    """Some fields of an indicator (PATCH); absent fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    value: float | None = Field(default=None, allow_inf_nan=False, ge=-1e15, le=1e15)
    qualifier: Qualifier | None = None
    unit: Unit | None = None
    period: Period | None = None
    source: Source | None = None
    sort: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    editor: Editor


class Change(BaseModel):
    change_id: int
    programme_id: str
    indicator_id: str
    changed_by: str
    changed_at: datetime
    old_value: dict[str, Any] | None
    new_value: dict[str, Any] | None


class ChangeList(BaseModel):
    changes: list[Change]


class Vehicle(BaseModel):
    fleet: str
    vehicle: str
    state: Literal["riding", "parked", "charging", "offline"] | None
    online: bool | None
    lat: float | None
    lon: float | None
    soc_pct: float | None
    odometer_km: float | None
    battery_kwh: float | None
    last_seen: datetime | None
    first_seen: datetime


class RidingBehaviour(BaseModel):
    trips: int = Field(description="Trips with counted events (built since migration 0070).")
    distance_km: float
    harsh_braking: int = Field(description="Harsh braking events over those trips.")
    harsh_acceleration: int = Field(description="Harsh acceleration events over those trips.")
    harsh_braking_per_100_km: float | None
    harsh_acceleration_per_100_km: float | None


class BatteryHealth(BaseModel):
    soh_pct: float | None = Field(
        description="State of health: the estimated usable capacity as a percentage of the "
        "rated one (None until enough rides and charges were counted)."
    )
    capacity_kwh: float | None = Field(description="Estimated usable capacity, kWh.")
    rated_kwh: float = Field(description="Rated capacity the SoH is against, kWh.")
    soh_ci95_pct: tuple[float, float] | None = Field(
        description="95 % confidence interval of soh_pct (from the estimate's standard error)."
    )
    samples: int = Field(description="Rides and charge sessions counted.")
    method: str = Field(description="Estimation method (awtls-plett-2011: see the methodology).")


class VehicleDetail(Vehicle):
    riding: RidingBehaviour = Field(
        description="Harsh braking and acceleration over the vehicle's trips (thresholds: the "
        "trip rules' harsh_braking_g and harsh_acceleration_g)."
    )
    battery_health: BatteryHealth | None = Field(
        description="Battery state of health estimated from the vehicle's telemetry (None "
        "before the trip builder counted any ride or charge of it)."
    )


class VehicleList(BaseModel):
    vehicles: list[Vehicle]


class Trip(BaseModel):
    trip_id: int
    fleet: str
    vehicle: str
    ride_id: str | None
    rider: str | None = Field(
        default=None,
        description="The rider's pseudonym (HMAC-SHA256 of the device's token): present only "
        "for the operator token.",
    )
    source: str
    start_ts: datetime
    end_ts: datetime
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    start_zone: str | None
    end_zone: str | None
    distance_km: float
    duration_s: float
    avg_speed_kmh: float
    max_speed_kmh: float
    energy_kwh: float | None
    co2_baseline_kg: float | None
    co2_electricity_kg: float | None
    co2_avoided_kg: float | None
    methodology: str | None
    harsh_braking: int | None = Field(
        default=None, description="Harsh braking events (None: built before they were counted)."
    )
    harsh_acceleration: int | None = Field(
        default=None, description="Harsh acceleration events (None: likewise)."
    )


class TripPage(BaseModel):
    window: Window
    trips: list[Trip]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; None: last.")


class Alert(BaseModel):
    alert_id: int
    kind: Literal["offline", "low_battery", "geofence", "overspeed"]
    state: Literal["open", "cleared"]
    fleet: str
    vehicle: str
    zone_id: str | None = Field(description="Geofence: the zone; over-speed: the limit's zone.")
    zone_name: str | None
    opened_at: datetime = Field(description="Device time of the fix that opened it.")
    cleared_at: datetime | None
    value: float | None = Field(description="The reading that opened it, in unit.")
    threshold: float | None
    unit: str | None = Field(description="s (offline), % (low battery) or km/h (over-speed).")


class AlertPage(BaseModel):
    alerts: list[Alert]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; None: last.")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    database: bool
    schema_version: int | None
    expected_version: int

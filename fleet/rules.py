"""The trip rules: what counts as moving, parked, a gap, a trip, and a fix to drop.

In the spirit of Traccar's trip-report settings (``report.trip.*``): every rule is a field of
one frozen dataclass with a documented default, validated when it is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from fleet.errors import RulesError

__all__ = ["TripRules"]


@dataclass(frozen=True)
class TripRules:
    """Rules of the trip segmentation and of the incremental builder.

    Attributes
    ----------
    moving_speed_kmh : float, default 3.0
        A fix is *moving* when its reported speed (or, when the device sends none, the speed
        implied by the distance and time from the previous kept fix) is at least this, km/h.
        Walking a motorcycle is about 4 km/h; GPS jitter while parked reads 0-2 km/h.
    min_parking_s : float, default 120.0
        A run of non-moving fixes lasting at least this long, in s, is a parking and ends the
        trip; shorter stops (traffic lights, a junction) stay inside the trip.
    max_gap_s : float, default 600.0
        Two consecutive fixes further apart than this, in s, end a motion trip (the device
        slept or lost coverage; what happened in between is unknown). Ride-event trips are
        not split by gaps: the fleet said the ride continued.
    min_trip_km : float, default 0.1
        Motion trips shorter than this, in km, are discarded (a vehicle pushed across a
        parking lot). Ride-event trips are kept whatever their length: a rental happened.
    min_trip_s : float, default 30.0
        Motion trips shorter than this, in s, are discarded.
    max_hdop : float, default 5.0
        Fixes whose horizontal dilution of precision exceeds this are dropped (reason
        ``hdop``). Fixes without HDOP are kept.
    max_jump_kmh : float, default 130.0
        A fix whose implied speed from the previous kept fix *and* to the next kept fix both
        exceed this, in km/h, is a spike and is dropped (reason ``jump``). The POGO motorcycles
        are limited to 45-90 km/h, so 130 km/h leaves room for GPS timing error.
    jump_passes : int, default 2
        How many times the spike filter runs (each pass sees the previous pass's survivors).
    odometer_tolerance : float, default 0.10
        A trip whose GPS distance and odometer distance differ by more than this share of the
        odometer distance is flagged (``distance_flagged``), as long as the difference also
        exceeds ``odometer_floor_km``.
    odometer_floor_km : float, default 0.05
        Differences below this, in km, never flag a trip (odometer resolution, short trips).
    default_battery_kwh : float, default 2.3
        Usable battery capacity, in kWh, for vehicles whose ``vehicles.battery_kwh`` is NULL.
        (The POGO scooters carry a 72 V, 32 Ah pack: 2.3 kWh.)
    received_margin_s : float, default 120.0
        The builder looks for new telemetry received since its watermark minus this, in s:
        two ingesters may commit rows whose ``received_at`` are slightly out of order, and a
        row committed late with an earlier ``received_at`` must not be missed.
    settle_s : float, default 900.0
        A trip is final (written, and its points no longer reprocessed unless late points
        arrive) when it ended at least ``max(min_parking_s, max_gap_s)`` before the vehicle's
        latest fix, or ``settle_s`` before the build time ``now`` (the vehicle went silent).
    offline_after_s : float, default 900.0
        A vehicle whose last fix is older than this, in s, at build time is ``offline``.
    harsh_braking_g : float, default 0.35
        A step between two fixes whose least peak deceleration (from the two speeds, the
        time and the distance: :func:`fleet.behaviour.peak_acceleration_ms2`) reaches this, in
        g, is harsh braking. Telematics vendors put harsh braking between 0.25 g and 0.45 g
        (Positrace: 250 mG for passenger vehicles; SBeacon: 0.40 g; Digital Matter: 3.0 m/s2
        as a deliberately low test level, 4.4 m/s2 by default); riders on a training ground
        brake to a stop from 60 km/h at about 0.5-0.7 g (Ecker et al., 2001), normal stops
        in town at about 0.2 g.
    harsh_acceleration_g : float, default 0.30
        Likewise for harsh acceleration, in g (SBeacon: 0.25 g; Positrace: 200 mG and
        3.6 m/s2; a POGO motorcycle at full throttle from a standstill reaches about 0.4 g,
        a normal start about 0.15 g).
    harsh_min_speed_kmh : float, default 10.0
        Steps whose faster fix is slower than this, in km/h, are never harsh (Teltonika's GNSS
        green-driving algorithm evaluates acceleration from 10 km/h).
    harsh_max_step_s : float, default 10.0
        Steps longer than this, in s, are never harsh: too coarse to tell.
    harsh_distance_tolerance_m : float, default 2.0
        How far the distance between two fixes may be off through GPS noise, in m; the
        deceleration bound takes the least harsh distance within it.
    harsh_min_distance_m : float, default 8.0
        The bound never assumes a speed change happened over less distance than this, in m
        (below it a position error of a few metres decides the result).
    battery_soc_sigma_pct : float, default 0.5
        Standard deviation of one SoC reading, in %, for the battery health estimate
        (:mod:`fleet.capacity`). A BMS's SoC is itself an estimate: errors of 1-3 % absolute
        are usual over a pack's range (Plett, 2011, simulates 1 % for a cell); within one
        ride or charge much of it is common to both readings, and the reported value is
        rounded to 0.1 %.
    battery_power_sigma_w : float, default 30.0
        Standard deviation of one power reading (voltage times current), in W: a pack
        current sensor's noise and offset of a few tenths of an ampere at 72 V.
    battery_max_step_s : float, default 90.0
        A step between fixes longer than this, in s, ends a battery sample: rides report
        every few seconds and chargers every minute; a longer step is a gap.
    battery_min_soc_change_pct : float, default 2.0
        A ride or charge whose SoC changed by less than this, in %, is not a sample (its
        SoC change would be mostly rounding and noise).
    noise_max_step_s : float, default 7.5
        Steps between fixes at most this far apart, in s, have the GPS noise's expected
        contribution taken out of their length, the noise measured in each trip's own fixes
        (:mod:`fleet.noise`); longer steps count as measured, and 0 turns the correction off.
        Noise lengthens a step by about ``sigma^2 / d``: with 2.5 m of noise +0.5 % at 5 s,
        +8 % at 1 s, under 0.2 % from 10 s. From 10 s the road's own turns between fixes (a
        junction every 200-300 m in town) outweigh the noise in the fixes' offsets, and the
        measured noise comes out 1.3-7 times too high (the simulator's streets, 2.5-10 m).
    noise_min_windows : int, default 10
        Trips with fewer windows of four fixes to measure the noise in keep their steps as
        measured (a 60 s trip fixed every 5 s has 10).
    max_fixes_per_batch : int, default 4_000_000
        A run with more new fixes than this (a backfill of months) builds them in slices of
        device time of about this many fixes of all its vehicles (the builder's own slices,
        of 250,000, are smaller: it reads the next ones while it builds one), each slice in
        its own transaction, so memory stays bounded (:mod:`fleet.slices`); where the rows
        are stored vehicle after vehicle, in batches of whole vehicles instead.

    Raises
    ------
    RulesError
        When a value is not finite or outside its bounds; the message names the rule.

    Examples
    --------
    >>> TripRules(min_parking_s=300).min_parking_s
    300
    """

    moving_speed_kmh: float = 3.0
    min_parking_s: float = 120.0
    max_gap_s: float = 600.0
    min_trip_km: float = 0.1
    min_trip_s: float = 30.0
    max_hdop: float = 5.0
    max_jump_kmh: float = 130.0
    jump_passes: int = 2
    odometer_tolerance: float = 0.10
    odometer_floor_km: float = 0.05
    default_battery_kwh: float = 2.3
    received_margin_s: float = 120.0
    settle_s: float = 900.0
    offline_after_s: float = 900.0
    harsh_braking_g: float = 0.35
    harsh_acceleration_g: float = 0.30
    harsh_min_speed_kmh: float = 10.0
    harsh_max_step_s: float = 10.0
    harsh_distance_tolerance_m: float = 2.0
    harsh_min_distance_m: float = 8.0
    battery_soc_sigma_pct: float = 0.5
    battery_power_sigma_w: float = 30.0
    battery_max_step_s: float = 90.0
    battery_min_soc_change_pct: float = 2.0
    noise_max_step_s: float = 7.5
    noise_min_windows: int = 10
    max_fixes_per_batch: int = 4_000_000

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RulesError(f"TripRules.{item.name} is {value!r}; expected a number")
            if not math.isfinite(value) or value < 0:
                raise RulesError(
                    f"TripRules.{item.name} is {value!r}; expected a finite number >= 0"
                )
        positive = (
            "moving_speed_kmh",
            "max_gap_s",
            "max_jump_kmh",
            "default_battery_kwh",
            "max_fixes_per_batch",
            "harsh_braking_g",
            "harsh_acceleration_g",
            "harsh_max_step_s",
            "battery_soc_sigma_pct",
            "battery_power_sigma_w",
            "battery_max_step_s",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise RulesError(f"TripRules.{name} is {getattr(self, name)!r}; expected > 0")
        if not 0 <= self.jump_passes <= 10 or int(self.jump_passes) != self.jump_passes:
            raise RulesError(
                f"TripRules.jump_passes is {self.jump_passes!r}; expected an integer 0-10"
            )
        if int(self.noise_min_windows) != self.noise_min_windows:
            raise RulesError(
                f"TripRules.noise_min_windows is {self.noise_min_windows!r}; expected an integer"
            )

    @property
    def context_s(self) -> float:
        """How far back, in s, a fix can still change how later fixes are segmented."""
        return max(self.min_parking_s, self.max_gap_s)

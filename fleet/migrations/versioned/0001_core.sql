-- The core schema: vehicles, telemetry, events, status, trips, dead letters, zones,
-- learning-city programme tables and the trip builder's watermarks. Plain PostgreSQL 15+;
-- the TimescaleDB-only DDL lives in ../timescale/ and runs only where the extension exists.

-- A vehicle is named by its fleet and its id on the wire; everything else refers to it by a
-- small integer key, which keeps telemetry rows narrow and is TimescaleDB's segmentby column.
CREATE TABLE vehicles (
    vehicle_key  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fleet        text NOT NULL CHECK (fleet ~ '^[A-Za-z0-9_-]{1,64}$'),
    vehicle      text NOT NULL CHECK (vehicle ~ '^[A-Za-z0-9_-]{1,64}$'),
    battery_kwh  double precision CHECK (battery_kwh > 0),
    first_seen   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet, vehicle)
);

-- One row per GPS fix. The device's fix time is the time column; received_at is kept apart.
-- No foreign key: telemetry is the hot insert path, and the ingester resolves vehicle_key
-- through vehicles before it writes.
CREATE TABLE telemetry (
    vehicle_key  integer          NOT NULL,
    ts           timestamptz      NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    speed_kmh    real,
    heading_deg  real,
    hdop         real,
    soc_pct      real,
    voltage_v    real,
    current_a    real,
    batt_temp_c  real,
    odometer_km  double precision,
    seq          bigint,
    received_at  timestamptz      NOT NULL,
    PRIMARY KEY (vehicle_key, ts)
);
CREATE INDEX telemetry_ts_idx ON telemetry (ts DESC);
-- The trip builder finds what arrived since its last run by received_at.
CREATE INDEX telemetry_received_at_idx ON telemetry USING brin (received_at);

CREATE TABLE vehicle_events (
    vehicle_key  integer     NOT NULL REFERENCES vehicles (vehicle_key),
    ts           timestamptz NOT NULL,
    type         text        NOT NULL CHECK (type IN
                     ('ride_start', 'ride_end', 'charge_start', 'charge_end', 'fault')),
    ride_id      text,
    rider        text,        -- a pseudonymous token, never a name or a phone number
    attributes   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (vehicle_key, ts, type)
);
CREATE INDEX vehicle_events_received_at_idx ON vehicle_events (received_at);

-- The device's retained online/offline status (its last will).
CREATE TABLE vehicle_status (
    vehicle_key  integer     PRIMARY KEY REFERENCES vehicles (vehicle_key),
    online       boolean     NOT NULL,
    changed_at   timestamptz NOT NULL
);

-- What the trip builder keeps current for operators and the service.
CREATE TABLE vehicle_state (
    vehicle_key  integer     PRIMARY KEY REFERENCES vehicles (vehicle_key),
    state        text        NOT NULL CHECK (state IN ('riding', 'parked', 'charging', 'offline')),
    lat          double precision,
    lon          double precision,
    soc_pct      real,
    odometer_km  double precision,
    last_seen    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zones (
    zone_id      text PRIMARY KEY CHECK (zone_id ~ '^[a-z0-9_-]{1,64}$'),
    name         text NOT NULL,
    kind         text NOT NULL,      -- campus, centre, station, residential, charging, ...
    polygon_wkt  text NOT NULL,      -- WGS84 lon/lat polygon, read with shapely
    sort         integer NOT NULL DEFAULT 0
);

CREATE TABLE trips (
    trip_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vehicle_key         integer     NOT NULL REFERENCES vehicles (vehicle_key),
    ride_id             text,
    rider               text,
    source              text        NOT NULL CHECK (source IN ('events', 'motion')),
    start_ts            timestamptz NOT NULL,
    end_ts              timestamptz NOT NULL CHECK (end_ts >= start_ts),
    start_lat           double precision NOT NULL,
    start_lon           double precision NOT NULL,
    end_lat             double precision NOT NULL,
    end_lon             double precision NOT NULL,
    start_zone          text REFERENCES zones (zone_id),
    end_zone            text REFERENCES zones (zone_id),
    distance_km         double precision NOT NULL CHECK (distance_km >= 0),
    odometer_km         double precision,
    distance_flagged    boolean     NOT NULL DEFAULT false,
    duration_s          double precision NOT NULL CHECK (duration_s >= 0),
    avg_speed_kmh       double precision NOT NULL,
    max_speed_kmh       double precision NOT NULL,
    energy_kwh          double precision,
    fixes_used          integer     NOT NULL,
    fixes_dropped       integer     NOT NULL DEFAULT 0,
    co2_baseline_kg     double precision,
    co2_electricity_kg  double precision,
    co2_avoided_kg      double precision,
    methodology         text,
    built_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vehicle_key, start_ts)
);
CREATE INDEX trips_start_ts_idx ON trips (start_ts);
CREATE INDEX trips_rider_idx ON trips (rider) WHERE rider IS NOT NULL;

-- Per-vehicle progress of the incremental trip builder.
CREATE TABLE trip_watermarks (
    vehicle_key       integer     PRIMARY KEY REFERENCES vehicles (vehicle_key),
    closed_until      timestamptz NOT NULL,  -- trips ending before this are final
    received_until    timestamptz NOT NULL,  -- telemetry received up to here was seen
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every message, or part of one, that broke a rule: kept with its reason, never dropped.
CREATE TABLE dead_letters (
    dead_letter_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text        NOT NULL,
    payload         bytea       NOT NULL,
    reason          text        NOT NULL,
    detail          text,
    received_at     timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_received_at_idx ON dead_letters (received_at);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason);

-- The learning-city programme tables (FACTS.md), editable by an authorised user.
CREATE TABLE programmes (
    programme_id  text PRIMARY KEY CHECK (programme_id ~ '^[a-z0-9_-]{1,64}$'),
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    sort          integer NOT NULL DEFAULT 0
);

CREATE TABLE programme_indicators (
    programme_id  text NOT NULL REFERENCES programmes (programme_id) ON DELETE CASCADE,
    indicator_id  text NOT NULL CHECK (indicator_id ~ '^[a-z0-9_-]{1,64}$'),
    label         text NOT NULL,
    value         numeric,
    qualifier     text,            -- 'more than', 'about', or NULL for an exact figure
    unit          text NOT NULL DEFAULT '',
    period        text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT '',
    sort          integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL DEFAULT 'seed',
    PRIMARY KEY (programme_id, indicator_id)
);

-- Every change to a programme table: who, when, the old and the new value.
CREATE TABLE programme_changes (
    change_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme_id  text NOT NULL,
    indicator_id  text NOT NULL,
    changed_by    text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    old_value     jsonb,
    new_value     jsonb
);

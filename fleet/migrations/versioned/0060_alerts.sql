-- Fleet alerts (issue 15): which zones are watched, the alerts, each vehicle's evaluation
-- watermark, and the webhook outbox.

-- A zone marked alert_geofence opens an alert when a vehicle enters it and clears it when the
-- vehicle leaves; a zone with a speed limit opens one when a vehicle rides faster inside it.
-- Operators set both (UPDATE zones SET alert_geofence = true, speed_limit_kmh = 25 WHERE ...).
ALTER TABLE zones ADD COLUMN alert_geofence boolean NOT NULL DEFAULT false;
ALTER TABLE zones ADD COLUMN speed_limit_kmh double precision CHECK (speed_limit_kmh > 0);

-- One row per alert: opened once, cleared once. Times are device times of the fixes that
-- opened and cleared it (offline: the last fix plus the threshold). value is the reading that
-- opened it (SoC %, km/h, seconds silent), threshold what it was held against.
CREATE TABLE alerts (
    alert_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vehicle_key  integer     NOT NULL REFERENCES vehicles (vehicle_key),
    kind         text        NOT NULL
                 CHECK (kind IN ('offline', 'low_battery', 'geofence', 'overspeed')),
    zone_id      text        REFERENCES zones (zone_id) ON DELETE CASCADE,
    opened_at    timestamptz NOT NULL,
    cleared_at   timestamptz CHECK (cleared_at >= opened_at),
    value        double precision,
    threshold    double precision,
    CHECK ((kind = 'geofence') = (zone_id IS NOT NULL) OR kind = 'overspeed')
);
-- An alert opens once: at most one open per vehicle, kind and (geofence) zone.
CREATE UNIQUE INDEX alerts_open_once ON alerts
    (vehicle_key, kind, (CASE WHEN kind = 'geofence' THEN zone_id END)) NULLS NOT DISTINCT
    WHERE cleared_at IS NULL;
CREATE INDEX alerts_opened_at_idx ON alerts (opened_at DESC, alert_id DESC);
CREATE INDEX alerts_open_idx ON alerts (kind) WHERE cleared_at IS NULL;

-- The latest fix each vehicle's alerts were evaluated on: a later run flips nothing on fixes
-- at or before it (they only count towards a run of confirming fixes).
CREATE TABLE alert_watermarks (
    vehicle_key      integer     PRIMARY KEY REFERENCES vehicles (vehicle_key),
    evaluated_until  timestamptz NOT NULL
);

-- The outbox: one row per transition, written in the transaction of the trips of its run,
-- sent by `pogo trips` after the commit until the receiver accepts it once. body is the exact
-- JSON that is signed and sent (ASCII); delivery_id is the X-Pogo-Delivery header.
CREATE TABLE alert_deliveries (
    delivery_id      uuid        PRIMARY KEY,
    alert_id         bigint      NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    transition       text        NOT NULL CHECK (transition IN ('opened', 'cleared')),
    body             text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    delivered_at     timestamptz,
    abandoned_at     timestamptz,
    UNIQUE (alert_id, transition)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (created_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;

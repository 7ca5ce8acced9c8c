-- TimescaleDB only. Daily per-vehicle figures as a continuous aggregate with the same name,
-- columns and meaning as the plain view (../plain/telemetry_daily.sql), real-time
-- (materialized_only = false) so both answer alike up to the last point.
DO $$
BEGIN
    IF to_regclass('telemetry_daily') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM timescaledb_information.continuous_aggregates
        WHERE view_schema = current_schema() AND view_name = 'telemetry_daily'
    ) THEN
        DROP VIEW telemetry_daily;  -- the plain view, from before the extension was installed
    END IF;
END
$$;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT vehicle_key,
       time_bucket(INTERVAL '1 day', ts) AS day,
       count(*)                          AS points,
       min(odometer_km)                  AS odometer_min_km,
       max(odometer_km)                  AS odometer_max_km,
       max(speed_kmh)                    AS max_speed_kmh,
       min(soc_pct)                      AS soc_min_pct,
       max(soc_pct)                      AS soc_max_pct,
       min(ts)                           AS first_ts,
       max(ts)                           AS last_ts
FROM telemetry
GROUP BY vehicle_key, time_bucket(INTERVAL '1 day', ts)
WITH NO DATA;

-- The refresh window (POGO_DAILY_REFRESH_WINDOW_DAYS) ends well before the retention horizon
-- (the settings hold retention above it): a refresh over dropped raw chunks would silently
-- delete the aggregate's history.
SELECT remove_continuous_aggregate_policy('telemetry_daily', if_exists => true);
SELECT add_continuous_aggregate_policy(
    'telemetry_daily',
    start_offset      => make_interval(days => current_setting('pogo.daily_refresh_window_days')::int),
    end_offset        => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes'
);

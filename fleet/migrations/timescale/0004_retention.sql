-- TimescaleDB only. Drop raw telemetry chunks older than POGO_TELEMETRY_RETENTION_DAYS (0, the
-- default, keeps them forever). Trips, vehicle state and the daily aggregate outlive them.
SELECT remove_retention_policy('telemetry', if_exists => true);
SELECT add_retention_policy(
    'telemetry',
    drop_after => make_interval(days => current_setting('pogo.telemetry_retention_days')::int)
)
WHERE current_setting('pogo.telemetry_retention_days')::int > 0;

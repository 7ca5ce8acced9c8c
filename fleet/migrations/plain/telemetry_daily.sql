-- Daily per-vehicle figures, as a plain view where TimescaleDB is absent. The TimescaleDB path
-- (../timescale/0003_telemetry_daily.sql) builds a continuous aggregate with the same name,
-- columns and meaning, so the queries that read it are the same on both.
CREATE OR REPLACE VIEW telemetry_daily AS
SELECT vehicle_key,
       date_trunc('day', ts, 'UTC') AS day,
       count(*)                     AS points,
       min(odometer_km)             AS odometer_min_km,
       max(odometer_km)             AS odometer_max_km,
       max(speed_kmh)               AS max_speed_kmh,
       min(soc_pct)                 AS soc_min_pct,
       max(soc_pct)                 AS soc_max_pct,
       min(ts)                      AS first_ts,
       max(ts)                      AS last_ts
FROM telemetry
GROUP BY vehicle_key, date_trunc('day', ts, 'UTC');

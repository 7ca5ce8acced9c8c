-- Battery state of health (issue 18): each vehicle's usable capacity, estimated by the trip
-- builder from its rides and charge sessions (fleet/capacity.py: Plett's approximate weighted
-- total least squares, from running sums). One row per vehicle with a sample or a run going.
CREATE TABLE battery_health (
    vehicle_key    integer     PRIMARY KEY REFERENCES vehicles (vehicle_key),
    -- Rides and charges that ended at or before sampled_until are counted; one going on then
    -- started at open_from (the next build reads from there).
    sampled_until  timestamptz NOT NULL,
    open_from      timestamptz,
    -- The running sums: x is the SoC change (fraction), y the energy into the pack (kWh);
    -- x^2, xy, y^2 over each sample's var_y, the same over var_x, and the variances' sums.
    samples        integer     NOT NULL CHECK (samples >= 0),
    xx_y           double precision NOT NULL,
    xy_y           double precision NOT NULL,
    yy_y           double precision NOT NULL,
    xx_x           double precision NOT NULL,
    xy_x           double precision NOT NULL,
    yy_x           double precision NOT NULL,
    var_x          double precision NOT NULL,
    var_y          double precision NOT NULL,
    -- The estimate from those sums (NULL until there are enough samples), against the
    -- vehicle's rated capacity (vehicles.battery_kwh, or the trip rules' default).
    capacity_kwh   double precision CHECK (capacity_kwh > 0),
    stderr_kwh     double precision CHECK (stderr_kwh >= 0),
    rated_kwh      double precision NOT NULL CHECK (rated_kwh > 0),
    method         text        NOT NULL
);

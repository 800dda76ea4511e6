-- GET /stats: one region's trips in one ISO week, and its weekly average (its trips over
-- the weeks from its first to its last week with trips, empty weeks counted as 0). No row
-- when the region has no trips at all. $1 region (any case), $2 ISO year, $3 ISO week
WITH r AS (
  SELECT region, sum(trips)::bigint AS total, ((max(week_start) - min(week_start)) / 7 + 1)::int AS weeks
  FROM trips.gold_weekly WHERE lower(region) = lower(btrim($1)) GROUP BY region
)
SELECT r.region, $2::int AS year, $3::int AS week,
  coalesce((SELECT w.trips FROM trips.gold_weekly w WHERE w.region = r.region AND w.year = $2 AND w.week = $3), 0)::bigint AS trips,
  round(r.total::numeric / r.weeks, 2)::float8 AS weekly_average, r.weeks AS weeks_observed
FROM r

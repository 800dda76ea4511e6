-- Check (trips_gold_checks): failing rows are regions whose weekly gold totals differ from
-- silver's trips, or whose similar-trip groups do. No parameters.
WITH s AS (SELECT region, count(*)::bigint AS trips FROM trips.silver GROUP BY region),
w AS (SELECT region, sum(trips)::bigint AS trips FROM trips.gold_weekly GROUP BY region),
g AS (SELECT region, sum(trips)::bigint AS trips FROM trips.gold_similar GROUP BY region)
SELECT coalesce(s.region, w.region, g.region) AS region, s.trips AS silver, w.trips AS weekly, g.trips AS similar
FROM s FULL JOIN w ON w.region = s.region FULL JOIN g ON g.region = coalesce(s.region, w.region)
WHERE s.trips IS DISTINCT FROM w.trips OR s.trips IS DISTINCT FROM g.trips

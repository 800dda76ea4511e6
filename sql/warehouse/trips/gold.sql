-- Add one silver batch (the trips a run added) to gold, once: weekly trips per region and
-- similar-trip groups grow by the batch's counts, so the work is the new file's size, not
-- the table's. A batch already applied (a retry, a cleared run) adds nothing.
-- $1 batch_id. Returns applied (0 or 1), trips, and the gold rows touched.
WITH fresh AS (
  SELECT s.region, s.datetime, s.origin_lon, s.origin_lat, s.destination_lon, s.destination_lat
  FROM trips.silver s WHERE s.batch_id = $1
    AND NOT EXISTS (SELECT 1 FROM trips.gold_batches g WHERE g.batch_id = $1)
), guard AS (
  INSERT INTO trips.gold_batches (batch_id, trips)
  SELECT $1, count(*) FROM fresh
  ON CONFLICT (batch_id) DO NOTHING
  RETURNING batch_id
), weekly AS (
  INSERT INTO trips.gold_weekly AS g (region, year, week, week_start, trips)
  SELECT region, extract(isoyear FROM datetime)::int, extract(week FROM datetime)::int, date_trunc('week', datetime)::date, count(*)
  FROM fresh WHERE EXISTS (SELECT 1 FROM guard)
  GROUP BY 1, 2, 3, 4
  ON CONFLICT (region, year, week) DO UPDATE SET trips = g.trips + EXCLUDED.trips
  RETURNING 1
), grouped AS (
  INSERT INTO trips.gold_similar AS g (region, origin_cell_lon, origin_cell_lat, destination_cell_lon, destination_cell_lat, hour, trips, first_seen, last_seen)
  SELECT region, floor(origin_lon * 100)::int, floor(origin_lat * 100)::int, floor(destination_lon * 100)::int, floor(destination_lat * 100)::int,
    extract(hour FROM datetime)::int, count(*), min(datetime), max(datetime)
  FROM fresh WHERE EXISTS (SELECT 1 FROM guard)
  GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (region, origin_cell_lon, origin_cell_lat, destination_cell_lon, destination_cell_lat, hour)
    DO UPDATE SET trips = g.trips + EXCLUDED.trips, first_seen = least(g.first_seen, EXCLUDED.first_seen), last_seen = greatest(g.last_seen, EXCLUDED.last_seen)
  RETURNING 1
)
SELECT (SELECT count(*) FROM guard)::int AS applied,
  (SELECT CASE WHEN EXISTS (SELECT 1 FROM guard) THEN count(*) ELSE 0 END FROM fresh)::bigint AS trips,
  (SELECT count(*) FROM weekly)::int AS weekly_rows,
  (SELECT count(*) FROM grouped)::int AS similar_rows

-- GET /stats/bbox: trips starting inside a bounding box (origin within [min, max] on both
-- axes) in one ISO week, and the box's weekly average over the weeks from its first to its
-- last trip (empty weeks counted as 0). One scan of silver (a few hundred ms per 10 M
-- rows; at 100 M rows, partitions by week keep the week's count to one partition).
-- $1 min_lon, $2 min_lat, $3 max_lon, $4 max_lat, $5 ISO year, $6 ISO week
WITH week AS (
  SELECT to_date($5::text || lpad($6::text, 2, '0'), 'IYYYIW')::timestamp AS starts
), agg AS (
  SELECT count(*) FILTER (WHERE s.datetime >= week.starts AND s.datetime < week.starts + interval '7 days')::bigint AS trips,
    count(*)::bigint AS total,
    (max(date_trunc('week', s.datetime))::date - min(date_trunc('week', s.datetime))::date) / 7 + 1 AS weeks
  FROM trips.silver s, week
  WHERE s.origin_lon BETWEEN $1 AND $3 AND s.origin_lat BETWEEN $2 AND $4
)
SELECT $1::float8 AS min_lon, $2::float8 AS min_lat, $3::float8 AS max_lon, $4::float8 AS max_lat, $5::int AS year, $6::int AS week,
  agg.trips, CASE WHEN agg.total = 0 THEN 0 ELSE round(agg.total::numeric / agg.weeks, 2)::float8 END AS weekly_average
FROM agg

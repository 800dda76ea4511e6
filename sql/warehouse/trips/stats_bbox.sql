-- GET /stats/bbox: trips starting inside a bounding box (origin within [min, max] on both
-- axes) in one ISO week, from silver (the week's rows by the datetime index), and the box's
-- weekly average over the weeks from its first to its last trip (empty weeks counted as 0).
-- $1 min_lon, $2 min_lat, $3 max_lon, $4 max_lat, $5 ISO year, $6 ISO week
WITH week AS (
  SELECT (to_date($5::text || lpad($6::text, 2, '0'), 'IYYYIW'))::timestamp AS starts
), inside AS (
  SELECT s.datetime FROM trips.silver s
  WHERE s.origin_lon BETWEEN $1 AND $3 AND s.origin_lat BETWEEN $2 AND $4
), span AS (
  SELECT count(*)::bigint AS total, ((max(date_trunc('week', datetime))::date - min(date_trunc('week', datetime))::date) / 7 + 1)::int AS weeks FROM inside
)
SELECT $1::float8 AS min_lon, $2::float8 AS min_lat, $3::float8 AS max_lon, $4::float8 AS max_lat, $5::int AS year, $6::int AS week,
  (SELECT count(*) FROM trips.silver s, week
    WHERE s.datetime >= week.starts AND s.datetime < week.starts + interval '7 days'
      AND s.origin_lon BETWEEN $1 AND $3 AND s.origin_lat BETWEEN $2 AND $4)::bigint AS trips,
  CASE WHEN span.total = 0 THEN 0 ELSE round(span.total::numeric / span.weeks, 2)::float8 END AS weekly_average
FROM span

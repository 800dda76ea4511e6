-- Bronze rows of one run, typed and cleaned, into silver: region trimmed, inner spaces
-- collapsed and capitalised (Turin), datasource trimmed and lower-cased, points parsed from
-- WKT `POINT (lon lat)`, time as a timestamp. A trip already in silver (from this file or
-- an earlier one) is not added again. Bronze only keeps rows whose points and time parse.
-- $1 run_id. Returns the trips added.
WITH parsed AS (
  SELECT initcap(btrim(regexp_replace(b.region, '\s+', ' ', 'g'))) AS region,
    o[1]::float8 AS origin_lon, o[2]::float8 AS origin_lat, d[1]::float8 AS destination_lon, d[2]::float8 AS destination_lat,
    btrim(b.datetime)::timestamp AS datetime, lower(btrim(b.datasource)) AS datasource, b.source_file, b.row_number
  FROM trips.bronze b
  CROSS JOIN LATERAL regexp_match(b.origin_coord, '^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$') AS o
  CROSS JOIN LATERAL regexp_match(b.destination_coord, '^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$') AS d
  WHERE b.run_id = $1
), added AS (
  INSERT INTO trips.silver (trip_id, region, origin_lon, origin_lat, destination_lon, destination_lat, datetime, datasource, source_file, row_number, batch)
  SELECT md5(concat_ws('|', region, origin_lon, origin_lat, destination_lon, destination_lat, datetime, datasource))::uuid,
    region, origin_lon, origin_lat, destination_lon, destination_lat, datetime, datasource, source_file, row_number, $1
  FROM parsed
  ON CONFLICT (trip_id) DO NOTHING
  RETURNING 1
)
SELECT count(*)::bigint AS added FROM added

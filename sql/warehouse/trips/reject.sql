-- Rows of one file that could not be read. $1 source_file, $2 line[], $3 reason[], $4 raw[], $5 run_id
INSERT INTO trips.bronze_rejects (source_file, line, reason, raw, inserted_on, run_id)
SELECT $1, r.line, r.reason, r.raw, now(), $5 FROM unnest($2::bigint[], $3::text[], $4::text[]) AS r(line, reason, raw)

-- record_check_results: the results of one try's checks, replacing any it recorded
-- before (a check run twice in one try keeps its latest result).
-- $1 run_id, $2 task_id, $3 try_number; parallel arrays $4 position[], $5 name[],
-- $6 severity[], $7 passed[], $8 failing[], $9 sample[] (JSON text)
INSERT INTO weir.check_result (run_id, task_id, try_number, position, name, severity, passed, failing, sample)
SELECT $1, $2, $3, c.position, c.name, c.severity, c.passed, c.failing, c.sample::jsonb
FROM unnest($4::int[], $5::text[], $6::text[], $7::bool[], $8::bigint[], $9::text[]) AS c(position, name, severity, passed, failing, sample)
ON CONFLICT (run_id, task_id, try_number, position) DO UPDATE SET
  name = EXCLUDED.name, severity = EXCLUDED.severity, passed = EXCLUDED.passed, failing = EXCLUDED.failing,
  sample = EXCLUDED.sample, checked_at = now()

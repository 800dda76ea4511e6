-- append_try_logs: log lines of running (or just-ended) tries, shipped as they are written
-- so `weir tasks logs` shows a running try's lines, and a cancelled try keeps them.
-- Parallel arrays: $1 run_id[], $2 task_id[], $3 try_number[], $4 lines[] (JSON arrays)
UPDATE weir.task_try t SET logs = t.logs || l.lines::jsonb
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS l(run_id, task_id, try_number, lines)
WHERE t.run_id = l.run_id AND t.task_id = l.task_id AND t.try_number = l.try_number

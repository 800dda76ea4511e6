-- append_try_logs: log lines of tries, shipped as they are written so `weir tasks logs`
-- shows a running try's lines and a cancelled or killed try keeps them. The first lines
-- of a try create its task_try row (state running, from its task instance); later ones
-- are appended. Parallel arrays: $1 run_id[], $2 task_id[], $3 try_number[], $4 lines[]
-- (JSON arrays)
-- Each try that got lines is announced on `weir_logs` (`<run_id> <task_id> <try_number>`) at commit.
INSERT INTO weir.task_try AS t (run_id, task_id, try_number, state, start_date, hostname, logs)
SELECT l.run_id, l.task_id, l.try_number, 'running', ti.start_date, ti.hostname, l.lines::jsonb
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS l(run_id, task_id, try_number, lines)
JOIN weir.task_instance ti ON ti.run_id = l.run_id AND ti.task_id = l.task_id
ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET logs = t.logs || EXCLUDED.logs
RETURNING pg_notify('weir_logs', t.run_id || ' ' || t.task_id || ' ' || t.try_number) IS NULL AS announced

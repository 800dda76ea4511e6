-- check_results: the check results of a run (optionally of one task), the latest try of
-- each task first. $1 run_id, $2 task_id or NULL
SELECT task_id, try_number, position, name, severity, passed, failing, sample, checked_at
FROM weir.check_result
WHERE run_id = $1 AND ($2::text IS NULL OR task_id = $2)
ORDER BY task_id, try_number DESC, position

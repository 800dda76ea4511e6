-- audit_step: record one step's run in audit.step_log. $1 dag_id, $2 run_id, $3 task_id,
-- $4 try_number, $5 step, $6 source, $7 target, $8 started_at, $9 finished_at, $10 status,
-- $11 rows_in, $12 rows_out, $13 rows_affected, $14 error
INSERT INTO audit.step_log (dag_id, run_id, task_id, try_number, step, source, target, started_at, finished_at, duration_ms, status, rows_in, rows_out, rows_affected, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (extract(epoch FROM $9::timestamptz - $8::timestamptz) * 1000)::int, $10, $11, $12, $13, $14)
RETURNING id

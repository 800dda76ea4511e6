-- get_artifact: one artifact with its content; the latest try's when $3 is NULL.
-- $1 run_id, $2 task_id, $3 try_number or NULL, $4 name
SELECT task_id, try_number, name, content_type, content FROM weir.artifact
WHERE run_id = $1 AND task_id = $2 AND ($3::int IS NULL OR try_number = $3) AND name = $4
ORDER BY try_number DESC LIMIT 1

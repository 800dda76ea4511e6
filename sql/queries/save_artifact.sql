-- save_artifact: keep a file of a try (saved again under the same name: replaced).
-- $1 run_id, $2 task_id, $3 try_number, $4 name, $5 content_type, $6 content (bytea)
INSERT INTO weir.artifact (run_id, task_id, try_number, name, content_type, content)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (run_id, task_id, try_number, name) DO UPDATE SET content_type = EXCLUDED.content_type, content = EXCLUDED.content, created_at = now()
RETURNING run_id, task_id, try_number, name, content_type, octet_length(content) AS bytes

-- list_artifacts: the artifacts of a run, without their content. $1 run_id
SELECT task_id, try_number, name, content_type, octet_length(content) AS bytes, created_at
FROM weir.artifact WHERE run_id = $1 ORDER BY task_id, try_number, name

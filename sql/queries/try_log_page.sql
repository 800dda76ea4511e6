-- try_log_page: a window of one try's log lines, in order, with each line's 1-based
-- position (what a continuation token carries). $1 run_id, $2 task_id, $3 try_number,
-- $4 position after which to start, $5 at most this many lines
SELECT l.line, l.pos::int AS pos
FROM weir.task_try t, jsonb_array_elements(t.logs) WITH ORDINALITY AS l(line, pos)
WHERE t.run_id = $1 AND t.task_id = $2 AND t.try_number = $3 AND l.pos > $4
ORDER BY l.pos
LIMIT $5

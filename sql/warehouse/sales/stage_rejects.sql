-- stage_rejects: how many rows each stage set aside, by source and reason. $1 run_id.
SELECT stage, source, reason, count(*)::int AS rows FROM sales_stage.rejects WHERE run_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3

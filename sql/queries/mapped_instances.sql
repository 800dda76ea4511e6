-- mapped_instances: how many instances a mapped task has in a run (0: not mapped, or not
-- expanded yet). $1 run_id, $2 task_id
SELECT count(*)::int AS n FROM weir.task_instance WHERE run_id = $1 AND map_task = $2

-- known_task_instances: how many task instances the planner's statistics say there are
-- (pg_class.reltuples; 0 before the table was first analyzed), to decide whether a bulk
-- creation outgrew them (engine/runs.ts refreshStatisticsAfter).
SELECT greatest(reltuples, 0)::float8 AS known FROM pg_class WHERE oid = 'weir.task_instance'::regclass

-- insert_task_instances: every task instance of a new run, state none.
-- $1 run_id, $2 task_id[], $3 max_tries[], $4 trigger_rule[], $5 up_total[]
INSERT INTO weir.task_instance (run_id, task_id, max_tries, trigger_rule, up_total)
SELECT $1, t.task_id, t.max_tries, t.trigger_rule, t.up_total
FROM unnest($2::text[], $3::int[], $4::text[], $5::int[]) AS t(task_id, max_tries, trigger_rule, up_total)

-- insert_task_instances: every task instance of new runs, state none.
-- $1 run_id[]; parallel arrays: $2 task_id[], $3 max_tries[], $4 trigger_rule[], $5 up_total[]
INSERT INTO weir.task_instance (run_id, task_id, max_tries, trigger_rule, up_total)
SELECT r.run_id, t.task_id, t.max_tries, t.trigger_rule, t.up_total
FROM unnest($1::text[]) AS r(run_id)
CROSS JOIN unnest($2::text[], $3::int[], $4::text[], $5::int[]) AS t(task_id, max_tries, trigger_rule, up_total)

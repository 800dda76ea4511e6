-- mapped_item: the item a mapped task instance runs on: element $3 of the list its task is
-- mapped over, the output of upstream task $2 in run $1.
SELECT output -> $3::int AS item FROM weir.task_instance
WHERE run_id = $1 AND task_id = $2 AND state = 'success'

-- count_finished: task instances of runs finished; returns the runs with nothing left.
-- Parallel arrays: $1 run_id[], $2 finished count[]
UPDATE weir.dag_run r SET unfinished = r.unfinished - f.n
FROM unnest($1::text[], $2::int[]) AS f(run_id, n)
WHERE r.run_id = f.run_id
RETURNING r.run_id, r.unfinished, r.dag_id

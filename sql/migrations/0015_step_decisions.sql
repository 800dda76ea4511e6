-- 0015_step_decisions: what the statement that ends a try decides, each in one place, so
-- that statement can decide its successors and its run's end too.
--
-- Airflow's trigger-rule table (airflow/ti_deps/deps/trigger_rule_dep.py). What a task instance whose upstream changed does next: 'run', 'skip',
-- 'upstream_failed' or 'wait'. A rule may be decided before every upstream is done
-- (one_success runs on the first success; all_success gives up on the first failure).
-- A task with no upstream has nothing to wait for, whatever its rule (as in Airflow).
CREATE FUNCTION weir.trigger_decision(rule text, total integer, success integer, failed integer, skipped integer, upstream_failed integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN total = 0 OR rule = 'always' THEN 'run'
    WHEN rule = 'all_success' THEN CASE
      WHEN failed + upstream_failed > 0 THEN 'upstream_failed'
      WHEN skipped > 0 THEN 'skip'
      WHEN success >= total THEN 'run' ELSE 'wait' END
    WHEN rule = 'all_failed' THEN CASE
      WHEN success > 0 OR skipped > 0 THEN 'skip'
      WHEN failed + upstream_failed >= total THEN 'run' ELSE 'wait' END
    WHEN rule = 'all_done' THEN CASE
      WHEN success + failed + upstream_failed + skipped >= total THEN 'run' ELSE 'wait' END
    WHEN rule = 'one_success' THEN CASE
      WHEN success > 0 THEN 'run'
      WHEN failed + upstream_failed + skipped < total THEN 'wait'
      WHEN failed + upstream_failed = 0 THEN 'skip' ELSE 'upstream_failed' END
    WHEN rule = 'one_failed' THEN CASE
      WHEN failed + upstream_failed > 0 THEN 'run'
      WHEN success + skipped >= total THEN 'skip' ELSE 'wait' END
    WHEN rule = 'none_failed' THEN CASE
      WHEN failed + upstream_failed > 0 THEN 'upstream_failed'
      WHEN success + skipped >= total THEN 'run' ELSE 'wait' END
    WHEN rule = 'none_failed_min_one_success' THEN CASE
      WHEN failed + upstream_failed > 0 THEN 'upstream_failed'
      WHEN success + skipped < total THEN 'wait'
      WHEN skipped >= total THEN 'skip' ELSE 'run' END
    WHEN rule = 'none_skipped' THEN CASE
      WHEN skipped > 0 THEN 'skip'
      WHEN success + failed + upstream_failed >= total THEN 'run' ELSE 'wait' END
    ELSE 'wait'
  END
$$;

-- Airflow's run outcome: a run whose task instances have all finished fails if any leaf
-- (a mapped leaf's instances count as that leaf) is in $3 (TASK_FAILED), and succeeds
-- otherwise. VOLATILE on purpose: it reads with a snapshot of its own, taken when it is
-- called, so a statement that locked the run first sees every end committed before it
-- (the statement's own row changes are not visible to it).
CREATE FUNCTION weir.run_outcome(run_id text, leaves text[], failed weir.ti_state[])
RETURNS weir.run_state LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN EXISTS (
    SELECT 1 FROM weir.task_instance ti
    WHERE ti.run_id = run_outcome.run_id AND coalesce(ti.map_task, ti.task_id) = ANY(run_outcome.leaves) AND ti.state = ANY(run_outcome.failed)
  ) THEN 'failed'::weir.run_state ELSE 'success'::weir.run_state END
$$;

-- 0016_one_statement_step: whether a run's step is recorded by the hot path's one statement
-- alone (end_tries.sql in its fast mode, end_try.sql for a single try), decided here once
-- for both. Both are plain expressions the planner inlines.

-- A successor keeps its run's step from one statement when its rule skips it or fails it
-- upstream (what follows needs a transaction of its own), or when it may run but the
-- caller may not claim it (it has to be queued).
CREATE FUNCTION weir.successor_needs_more(decision text, claimable boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT decision IN ('skip', 'upstream_failed') OR (decision = 'run' AND NOT claimable)
$$;

-- A run's step is recorded in one statement when every try of it recorded now succeeded and
-- is still the running one, no successor needs more, and the run goes on, or may end here
-- (may_end: the caller ends it; it is still running).
CREATE FUNCTION weir.step_in_one_statement(all_succeeded boolean, needs_more boolean, unfinished integer, recorded integer, may_end boolean, state weir.run_state)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT all_succeeded AND NOT needs_more AND (unfinished > recorded OR (may_end AND state = 'running'))
$$;

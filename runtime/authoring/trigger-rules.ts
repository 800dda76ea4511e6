/**
 * What a task instance whose upstream changed does next. The rule table itself (Airflow's,
 * airflow/ti_deps/deps/trigger_rule_dep.py) has one home: `weir.trigger_decision` in
 * sql/migrations/0015_step_decisions.sql, which the statements that count upstream
 * outcomes call (end_tries.sql, count_upstream_outcomes.sql).
 */
export type TriggerDecision = 'run' | 'skip' | 'upstream_failed' | 'wait';

import { TriggerRule } from '../states.ts';

/** How many direct upstream task instances ended in each finished state. */
export interface UpstreamCounts {
  total: number;
  success: number;
  failed: number;
  skipped: number;
  upstreamFailed: number;
}

/** What a task instance whose upstream changed should do next. */
export type TriggerDecision = 'run' | 'skip' | 'upstream_failed' | 'wait';

/**
 * Airflow's trigger-rule table (airflow/ti_deps/deps/trigger_rule_dep.py):
 * a rule may be decided before every upstream is done (one_success runs on the
 * first success; all_success gives up on the first failure).
 */
export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): TriggerDecision {
  const failed = c.failed + c.upstreamFailed;
  const done = c.success + failed + c.skipped;
  const allDone = done >= c.total;
  // A task with no upstream has nothing to wait for, whatever its rule (as in Airflow).
  if (c.total === 0) return 'run';
  switch (rule) {
    case 'always':
      return 'run';
    case 'all_success':
      if (failed > 0) return 'upstream_failed';
      if (c.skipped > 0) return 'skip';
      return c.success >= c.total ? 'run' : 'wait';
    case 'all_failed':
      if (c.success > 0 || c.skipped > 0) return 'skip';
      return failed >= c.total ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'one_success':
      if (c.success > 0) return 'run';
      if (!allDone) return 'wait';
      return done === c.skipped ? 'skip' : 'upstream_failed';
    case 'one_failed':
      if (failed > 0) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'none_failed':
      if (failed > 0) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (failed > 0) return 'upstream_failed';
      if (!allDone) return 'wait';
      return c.skipped >= c.total ? 'skip' : 'run';
    case 'none_skipped':
      if (c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
  }
}

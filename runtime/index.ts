/**
 * weir's public API for DAG files: `import { dag, z } from 'weir'`.
 */
export { dag, Dag, isDag, ID_PATTERN } from './authoring/dag.ts';
export type {
  DagOptions,
  TaskOptions,
  TaskDefaults,
  TaskContext,
  TaskLogger,
  TaskRef,
  OutputOf,
  LogLine,
  QueuedEmail,
  DagState,
  RouteDefinition,
} from './authoring/dag.ts';
export { NonRetryableError, SkipTask, WeirError } from './errors.ts';
export { TriggerRule, TaskState, RunState } from './states.ts';
// Re-exported so DAG files outside this package can declare params without installing zod.
export { z } from 'zod';
export { DateTime } from 'luxon';

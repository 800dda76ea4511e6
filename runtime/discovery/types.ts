/**
 * What static discovery reports about DAG files. Plain data only (no imports
 * with side effects), so the warm path can read cached records without loading
 * ts-morph or the authoring API.
 */

/** Kinds of problems discovery reports; stable strings for `--json` consumers. */
export const DiagnosticCode = {
  syntax_error: 'syntax_error',
  type_error: 'type_error',
  duplicate_dag_id: 'duplicate_dag_id',
  non_literal_id: 'non_literal_id',
  bad_id: 'bad_id',
  duplicate_task_id: 'duplicate_task_id',
  unknown_upstream: 'unknown_upstream',
  cycle: 'cycle',
  no_default_export: 'no_default_export',
  invalid_option: 'invalid_option',
  no_tasks: 'no_tasks',
  runtime_load: 'runtime_load',
} as const;
export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

/** One problem, anchored at a 1-based line and column of a file. */
export interface DiscoveryDiagnostic {
  file: string;
  line: number;
  column: number;
  code: DiagnosticCode;
  /** One line, without the `file:line:column:` prefix (see `formatDiagnostic`). */
  message: string;
  dagId?: string;
  taskId?: string;
}

/** A task as read from the source. */
export interface DiscoveredTask {
  id: string;
  upstream: string[];
  triggerRule: string;
  retries: number;
  /** For a mapped task (`d.map`): the task whose list it is mapped over. */
  mapOver?: string;
  /** Where `d.task(` is written; 0 when the task only came from the runtime fallback. */
  line: number;
  column: number;
}

/** One field of `params: z.object({...})`. */
export interface DiscoveredParam {
  name: string;
  /** zod constructor, e.g. `string`, `number`, `enum`; null when not readable. */
  type: string | null;
  /** True when the chain has a `.default(...)`. */
  hasDefault: boolean;
  /** The literal default (JSON value); undefined when absent or not a literal. */
  default?: unknown;
  optional: boolean;
  line: number;
  column: number;
}

/** Everything discovery knows about one DAG. */
export interface DagRecord {
  dagId: string;
  file: string;
  line: number;
  column: number;
  description: string | null;
  /** Cron expression or preset; null means manual runs only. */
  schedule: string | null;
  /** IANA zone; `UTC` when not given (the authoring default). */
  timezone: string;
  tags: string[];
  owner: string | null;
  catchup: boolean;
  maxActiveRuns: number | null;
  startDate: string | null;
  /** A file-arrival trigger (`trigger.files`, its folder as written) or the assets it waits for (`trigger.assets`); null: none (or not readable). */
  trigger?: { folder: string; pattern: string } | { assets: string[] } | null;
  /** null when `params` is present but not a readable `z.object({...})`. */
  params: DiscoveredParam[] | null;
  tasks: DiscoveredTask[];
  /** [upstream, downstream] pairs, in task declaration order. */
  edges: Array<[string, string]>;
  /**
   * Why the static reading could not be sure (tasks built in a loop, computed
   * options, ...). Non-empty means the graph came from loading the file in a
   * child process (`source: 'runtime'`), unless that failed too.
   */
  uncertain: string[];
  source: 'static' | 'runtime';
  errors: DiscoveryDiagnostic[];
}

/** Per-file outcome: a DAG record, or only errors when no DAG could be read. */
export interface FileReport {
  file: string;
  dag: DagRecord | null;
  /** Problems of the file not tied to a readable DAG (syntax errors, no default export). */
  errors: DiscoveryDiagnostic[];
}

export interface DiscoveryResult {
  folder: string;
  /** Every DAG read, broken ones included (their `errors` are non-empty). */
  dags: DagRecord[];
  /** Files that yielded no DAG, with the reasons. */
  broken: Array<{ file: string; errors: DiscoveryDiagnostic[] }>;
  /** All diagnostics, flattened, sorted by file, line, column. */
  errors: DiscoveryDiagnostic[];
  /** Files served from the cache vs. read (and maybe loaded) this time. */
  cache: { hits: number; misses: number };
}

/** `file:line:column: message`, the one-line form every printer uses. */
export function formatDiagnostic(d: DiscoveryDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/**
 * The authoring API: what a DAG file imports as `import { dag } from 'weir'`.
 * Declaring only: building a DAG performs no I/O.
 *
 * ```ts
 * const d = dag({ id: 'stock_prices', params: z.object({ symbol: z.string().default('AMZN') }) });
 * const extract = d.task({ id: 'extract', retries: 3 }, async (ctx) => fetchPrices(ctx.params.symbol));
 * const clean = d.task({ id: 'clean', upstream: [extract] }, async (ctx) => cleanRows(ctx.output(extract)));
 * export default d;
 * ```
 */
import type { DateTime } from 'luxon';
import type { z } from 'zod';
import type { TriggerRule } from '../states.ts';

/** A typed reference to a task: `Out` is what the task's function returns. */
export interface TaskRef<Out = unknown, Id extends string = string> {
  readonly id: Id;
  readonly dagId: string;
  /** Phantom: carries the output type; never set at runtime. */
  readonly __output?: Out;
}
export type OutputOf<T> = T extends TaskRef<infer O, string> ? O : never;

/** A log line kept with the try that wrote it. */
export interface LogLine {
  ts: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

/** The logger a task receives; lines are stored per try and shown by `weir tasks logs`. */
export interface TaskLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * An email rendered from `<template>.html.njk` and `.txt.njk` with `context` (values
 * HTML-escaped and secrets masked), as `ctx.queueEmail` takes it.
 */
export interface QueuedEmail {
  to: string | string[];
  subject: string;
  /** A name in weir's `templates/`, or a `file:` URL beside your DAG: `new URL('./revenue-alert', import.meta.url).href`. */
  template: string;
  context: Record<string, unknown>;
  /** Inline images (PNG, base64), shown by the template as `<img src="cid:<cid>">`: mail clients strip SVG. */
  images?: { cid: string; filename: string; pngBase64: string }[];
}

/** A post to a webhook channel: `text` is what Slack- and Teams-style incoming webhooks show. */
export interface QueuedWebhook {
  /** The webhook's name: its URL is `WEIR_WEBHOOK_<NAME>`. */
  webhook: string;
  text: string;
}

/** What a try queues to be sent once it succeeds: emails and webhook posts. */
export type QueuedNotification = QueuedEmail | QueuedWebhook;

/** What a task function receives. */
/**
 * What a non-upstream task's reference is checked against in `ctx.output`: the type error
 * then says it in words ("task 'load' is not upstream of 'report'") instead of
 * "not assignable to parameter of type 'never'".
 */
export type NotUpstream<Read extends string, Self extends string> = `task '${Read}' is not upstream of '${Self}': add it to this task's upstream to read its output`;

export interface TaskContext<P = Record<string, unknown>, U extends readonly TaskRef<any, string>[] = readonly TaskRef<any, string>[], Self extends string = string> {
  /** Validated run parameters (schema defaults applied). */
  readonly params: P;
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** Start of the data interval (Airflow's logical date). For manual runs: when it was triggered. */
  readonly logicalDate: DateTime;
  readonly dataIntervalStart: DateTime;
  readonly dataIntervalEnd: DateTime;
  /** 1 on the first try. */
  readonly tryNumber: number;
  /** Retries allowed after the first try (Airflow's max_tries). */
  readonly maxTries: number;
  /** This instance's index in its mapped task's list (`d.map`), or -1 for a task that is not mapped (Airflow's map_index). */
  readonly mapIndex: number;
  readonly log: TaskLogger;
  /** Aborted on timeout, cancel or worker shutdown. Pass it to fetch/axios/pg. */
  readonly signal: AbortSignal;
  /** The stored output of an upstream task, typed by what that task returns. */
  output<T extends TaskRef<any, string>>(task: [T] extends [U[number]] ? T : NotUpstream<T['id'], Self>): OutputOf<T>;
  /**
   * Queue an email (an alert) to be sent once this try succeeds: it is put on weir's
   * durable alert queue in the same transaction that records the success, and sent by a
   * worker's alerter, so an SMTP outage delays it (retries with backoff) and never drops
   * it. A try that fails queues nothing; its retry queues again.
   */
  queueEmail(email: QueuedEmail): void;
  /**
   * Queue a post to one of the DAG's webhooks (`WEIR_WEBHOOK_<NAME>`), with the same
   * guarantees as queueEmail: sent once this try succeeds, retried through outages.
   */
  queueWebhook(message: QueuedWebhook): void;
  /** The DAG's state between runs (watermarks, cursors): see DagState. */
  readonly state: DagState;
  /**
   * A secret by name: the environment variable of that name when set, else the secrets
   * store (`weir secrets set NAME`). Its value is masked in logs, errors, outputs, state
   * and emails from then on. Neither set: the try fails for good, saying how to set it.
   */
  secret(name: string): Promise<string>;
  /**
   * Store a secret now, not with the try's success: a rotated refresh token must outlive a
   * try that fails afterwards. (An environment variable of the same name still wins: unset it.)
   */
  setSecret(name: string, value: string): Promise<void>;
  /** Run `fn` holding the secret's lock across workers and processes (one token rotation at a time). */
  withSecretLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * A small per-DAG key/value store of JSON values kept between runs (Airflow's Variables,
 * Dagster's cursors), shown and edited with `weir state`. Writes are kept with the try and
 * stored in the transaction that records its success: a try that fails, times out or is
 * cancelled never moves a watermark. A value is at most 64 KiB of JSON.
 */
export interface DagState {
  /** The key's value: this try's own write when it made one, else the stored value; undefined when unset. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Store `value` under `key` when this try succeeds; `undefined` deletes the key. */
  set(key: string, value: unknown): void;
}

/** Retry, timeout and alert options of a task; DAG-level `defaultTaskOptions` fill the gaps. */
export interface TaskDefaults {
  /** Retries after the first try. Default 0. */
  retries?: number;
  /** Delay before the first retry. Default 1000 ms. */
  retryDelayMs?: number;
  /** Double the delay on every retry, with jitter. Default false. */
  retryExponentialBackoff?: boolean;
  /** Cap for the retry delay. Default 1 hour. */
  maxRetryDelayMs?: number;
  /** Abort the try (through `ctx.signal`) after this long. Default: no timeout. */
  timeoutMs?: number;
  /** Email the DAG's recipients when this task is retried. Default false. */
  emailOnRetry?: boolean;
  /**
   * Heap limit of the isolate the task's code runs in; a try that allocates past it
   * fails (and is retried) while the worker lives on. Default 2048 MB
   * (`WEIR_TASK_MEMORY_LIMIT_MB` sets the worker's default).
   */
  memoryLimitMb?: number;
}

export interface TaskOptions<Id extends string = string, U extends readonly (TaskRef<any, string> | string)[] = readonly []> extends TaskDefaults {
  id: Id;
  description?: string;
  /** Tasks that must finish first (typed references, or ids as strings). */
  upstream?: U;
  /** When the task runs given its upstream states. Default `all_success`. */
  triggerRule?: TriggerRule;
  /**
   * Assets this task produces (Airflow's outlets): names such as `warehouse.trips_gold`.
   * Each successful try records an event for each, which starts the DAGs whose
   * `trigger.assets` wait for it.
   */
  produces?: readonly string[];
  /**
   * A pool (`weir pools set NAME --slots N`, or the DAG's `pools`) that caps how many tries
   * of its tasks run at once across every worker; a try waits (handed back, with the
   * reason in `weir runs show`) until a slot is free. Default: none, not limited.
   */
  pool?: string;
  /** Slots of the pool a try of this task takes. Default 1. */
  poolSlots?: number;
  /**
   * The queue its tries go to (Airflow's task queue): only workers started with it in
   * `weir worker --queues heavy,default` run them. Default `default`.
   */
  queue?: string;
}

export type TaskFn<P, U extends readonly TaskRef<any, string>[], R, Self extends string = string> = (ctx: TaskContext<P, U, Self>) => Promise<R> | R;

/** Airflow's default queue: a task without `queue` is on it, and a worker without `--queues` works it. */
export const DEFAULT_TASK_QUEUE = 'default';

/** Airflow's max_map_length: the longest list a mapped task expands over, by default. */
export const DEFAULT_MAX_MAP_LENGTH = 1024;

/** Options of a mapped task (`d.map`): a task's, plus the list it is mapped over. */
export interface MapOptions<Id extends string, U extends readonly (TaskRef<any, string> | string)[], Item> extends TaskOptions<Id, U> {
  /** The upstream task whose output, a list, this task is mapped over: one task instance per item. */
  over: TaskRef<readonly Item[], string>;
  /** The longest list allowed; a longer one fails the task that returned it. Default 1,024 (DEFAULT_MAX_MAP_LENGTH). */
  maxMapLength?: number;
}

/** A task as the engine sees it: options resolved, upstream as ids. */
export interface TaskDefinition {
  id: string;
  description?: string;
  upstream: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number;
  timeoutMs: number | undefined;
  emailOnRetry: boolean;
  /** Assets a successful try records an event for (TaskOptions.produces). */
  produces: string[];
  /** The pool its tries take slots of, and how many (TaskOptions.pool). */
  pool: string | undefined;
  poolSlots: number;
  /** The queue its tries go to (TaskOptions.queue); `default` unless set. */
  queue: string;
  /** undefined: the worker's default. */
  memoryLimitMb: number | undefined;
  /** The task instance's function; a mapped task's also gets its item. */
  fn: (ctx: TaskContext<any, any>, item?: unknown) => unknown;
  /** For a mapped task (`d.map`): the upstream task whose list it expands over, and the longest list allowed. */
  mapOver: string | undefined;
  maxMapLength: number;
  /** Problems spotted while declaring (bad upstream values); reported by validation. */
  declarationProblems: string[];
}

export interface DagOptions<S extends ParamsSchema = ParamsSchema> {
  /** Matches `^[a-z][a-z0-9_]*$`. */
  id: string;
  description?: string;
  tags?: string[];
  owner?: string;
  /** zod schema of the run parameters, with defaults. Default: no parameters. */
  params?: S;
  defaultTaskOptions?: TaskDefaults;
  /** Who receives alerts (threshold alerts, failures). */
  alertRecipients?: string[];
  /** Email alertRecipients when a task fails for good. Default true when there are recipients. */
  emailOnFailure?: boolean;
  /**
   * Webhooks that hear about failures, by name: `ops` posts to the URL in `WEIR_WEBHOOK_OPS`
   * (a Slack- or Teams-style incoming webhook; the URL is a secret, so it lives in the
   * environment, not in the DAG file). Default none.
   */
  alertWebhooks?: string[];
  /** Post to alertWebhooks when a task fails for good. Default true when there are webhooks. */
  webhookOnFailure?: boolean;
  /**
   * What starts runs besides `schedule` and manual triggers: files landing in a folder, or
   * assets other tasks produce.
   *
   * - `files`: one run per new file in `folder` (relative to the DAG file, or absolute)
   *   whose name matches `pattern` (a glob: `*.csv`), once its size and modification time
   *   have held for `settleMs` (default 2000), with its path in the param `param` (default
   *   `file`; the DAG's params must declare it). A file is known by `identity`: `'stat'`
   *   (default) its path, size and modification time; `'content'` a SHA-256 of its bytes,
   *   so the same bytes dropped again, under any name, make no second run. Exactly once
   *   across schedulers and restarts; new content is a new run.
   * - `assets`: one run (run type `asset`) once every named asset has had an event since
   *   the DAG's last asset run (a task's `produces`; Airflow's asset schedules, AND of all).
   *   Several events of an asset before the run starts make one run.
   */
  trigger?: { files: { folder: string; pattern: string; settleMs?: number; param?: string; identity?: 'stat' | 'content' } } | { assets: readonly string[] };
  /** Cron expression or preset (`@daily`, `@hourly`, ...); none means manual runs only. */
  schedule?: string | null;
  /** IANA time zone of the schedule. Default UTC. */
  timezone?: string;
  /** ISO date/time (in `timezone`) of the first data interval. */
  startDate?: string;
  endDate?: string;
  /** Create runs for intervals missed while the scheduler was down. Default false. */
  catchup?: boolean;
  /** Default 16. */
  maxActiveRuns?: number;
  /**
   * Start paused the first time a scheduler sees this DAG (Airflow's is_paused_upon_creation):
   * for a DAG that needs something running first. `weir dags unpause` starts it. Default false.
   */
  pausedOnCreation?: boolean;
  /**
   * Pause the DAG once one of its runs succeeds (a one-shot job: `schedule: '@once'` at a
   * start date, disabled after it has done its work). `weir dags unpause` arms it again. Default false.
   */
  pauseAfterSuccess?: boolean;
  /** Fail a run that has been running longer than this. */
  dagrunTimeoutMs?: number;
  /**
   * Pools this DAG's tasks use, with their size, created when missing (by the scheduler or a
   * worker); a pool that exists keeps its size: `weir pools set` decides after. `{ quickbooks: 4 }`.
   */
  pools?: Record<string, number>;
  /**
   * Deadline alerts (Airflow 3's, which replaced SLAs): a run still unfinished `withinMs`
   * after its data interval's end (`of: 'data_interval_end'`, the default) or its creation
   * (`of: 'created'`) sends one alert to alertRecipients and alertWebhooks, sent by the
   * scheduler (no worker needed), and never a second one for that run. The run goes on.
   */
  deadline?: { withinMs: number; of?: 'data_interval_end' | 'created' };
}

export const ID_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Defaults of DagOptions, in one place (the loader resolves them once: runtime/loader/graph.ts). */
export const DAG_DEFAULTS = { maxActiveRuns: 16, timezone: 'UTC', emailOnFailure: true, webhookOnFailure: true, catchup: false } as const;

/**
 * What `params` must be, structurally: something with a zod schema's output
 * type (the loader checks at runtime that it is a zod schema). Constraining to
 * `z.ZodType` instead makes TypeScript relate every DAG's schema to zod's whole
 * type hierarchy: ~80,000 type instantiations for the first DAG file and ~6 ms
 * for each further one, which made `weir dags validate` over 500 files 6.3 s
 * instead of 3.5 s.
 */
export interface ParamsSchema {
  readonly _zod: { readonly output: unknown };
}
type Params<S> = S extends { readonly _zod: { readonly output: infer O } } ? O : Record<string, never>;
type Resolved<U> = U extends readonly (infer E)[] ? (E extends TaskRef<any, string> ? E : never)[] : never;

const DAG_BRAND = Symbol.for('weir.dag');

/**
 * A read-only endpoint a DAG serves from its data on weir's server (`d.route`): GET `path`
 * (`:name` segments are params), its path and query params checked by `params` (a bad one
 * is a 400 naming it), answered by a parameterised SQL file on a named connection, with
 * the server's auth (a viewer token). `args` are the params bound as $1, $2, ….
 */
export interface RouteDefinition {
  /** A path outside weir's own (`/api/v2/`, `/api/weir/`, `/dags/`, …): `/stats`, `/api/v1/events/:id`. */
  path: string;
  /** zod object schema of the path and query params (strings; use z.coerce for numbers). */
  params: ParamsSchema & { safeParse(value: unknown): { success: boolean; data?: unknown; error?: { issues: { path: PropertyKey[]; message: string }[] } } };
  /** A file in weir's `sql/` (`'warehouse/events/message_by_id.sql'`) or a file URL beside the DAG. */
  sql: string | URL;
  /** Param names bound as $1, $2, … in that order. */
  args: readonly string[];
  /** `one`: the first row, or 404 when there is none (`notFound` says what); `many`: `{ rows }`. Default `many`. */
  returns?: 'one' | 'many';
  notFound?: string;
  /** Named connection (`WEIR_CONN_<NAME>`, default weir's own database). Default `warehouse`. */
  connection?: string;
  description?: string;
}

/** A DAG under construction; the default export of a DAG file. */
export class Dag<S extends ParamsSchema = ParamsSchema> {
  readonly [DAG_BRAND] = true;
  readonly id: string;
  readonly options: DagOptions<S>;
  readonly tasks = new Map<string, TaskDefinition>();
  /** Ids declared more than once, for validation. */
  readonly duplicateTaskIds: string[] = [];
  /** Read-only endpoints this DAG serves (`route`). */
  readonly routes: RouteDefinition[] = [];

  constructor(options: DagOptions<S>) {
    this.id = options.id;
    this.options = options;
  }

  /** Declare a task. Returns a typed reference for `upstream` and `ctx.output`. */
  task<const Id extends string, const U extends readonly (TaskRef<any, string> | string)[] = readonly [], R = unknown>(
    options: TaskOptions<Id, U>,
    fn: TaskFn<Params<S>, Resolved<U>, R, Id>,
  ): TaskRef<Awaited<R>, Id> {
    const defaults = this.options.defaultTaskOptions ?? {};
    const declarationProblems: string[] = [];
    const upstream: string[] = [];
    for (const ref of (options.upstream ?? []) as readonly unknown[]) {
      if (typeof ref === 'string') upstream.push(ref);
      else if (ref && typeof ref === 'object' && typeof (ref as TaskRef).id === 'string') {
        const r = ref as TaskRef;
        if (r.dagId !== this.id) declarationProblems.push(`upstream "${r.id}" belongs to DAG "${r.dagId}", not "${this.id}"`);
        upstream.push(r.id);
      } else declarationProblems.push(`upstream entry ${String(ref)} is neither a task reference nor a task id`);
    }
    const definition: TaskDefinition = {
      id: options.id,
      description: options.description,
      upstream,
      triggerRule: options.triggerRule ?? 'all_success',
      retries: options.retries ?? defaults.retries ?? 0,
      retryDelayMs: options.retryDelayMs ?? defaults.retryDelayMs ?? 1000,
      retryExponentialBackoff: options.retryExponentialBackoff ?? defaults.retryExponentialBackoff ?? false,
      maxRetryDelayMs: options.maxRetryDelayMs ?? defaults.maxRetryDelayMs ?? 3_600_000,
      timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      emailOnRetry: options.emailOnRetry ?? defaults.emailOnRetry ?? false,
      produces: [...(options.produces ?? [])],
      pool: options.pool,
      poolSlots: options.poolSlots ?? 1,
      queue: options.queue ?? DEFAULT_TASK_QUEUE,
      memoryLimitMb: options.memoryLimitMb ?? defaults.memoryLimitMb,
      fn: fn as TaskDefinition['fn'],
      mapOver: undefined,
      maxMapLength: DEFAULT_MAX_MAP_LENGTH,
      declarationProblems,
    };
    if (this.tasks.has(options.id)) this.duplicateTaskIds.push(options.id);
    else this.tasks.set(options.id, definition);
    return { id: options.id, dagId: this.id } as TaskRef<Awaited<R>, Id>;
  }

  /**
   * Declare a mapped task (Airflow's `expand()`): once `over` has returned its list, the task
   * becomes one task instance per item, each with its own tries, retries, timeout, state,
   * logs and output, and `fn` gets its item. Downstream tasks read the instances' outputs as
   * one list, in item order. An empty list skips the task.
   *
   * ```ts
   * const days = d.task({ id: 'days' }, () => ['2026-01-01', '2026-01-02']);
   * const load = d.map({ id: 'load', over: days, retries: 3 }, async (ctx, day) => loadDay(day));
   * d.task({ id: 'report', upstream: [load] }, (ctx) => ctx.output(load).length);
   * ```
   */
  map<const Id extends string, Item, const U extends readonly (TaskRef<any, string> | string)[] = readonly [], R = unknown>(
    options: MapOptions<Id, U, Item>,
    fn: (ctx: TaskContext<Params<S>, Resolved<U>, Id>, item: Item) => Promise<R> | R,
  ): TaskRef<Awaited<R>[], Id> {
    const { over, maxMapLength, ...rest } = options;
    const overId = over && typeof over === 'object' && typeof over.id === 'string' ? over.id : undefined;
    const upstream = [...(overId && !(rest.upstream ?? []).some((u) => (typeof u === 'string' ? u : u.id) === overId) ? [over] : []), ...(rest.upstream ?? [])];
    const ref = this.task({ ...rest, upstream } as unknown as TaskOptions<Id, U>, fn as unknown as TaskFn<Params<S>, Resolved<U>, R, Id>);
    const definition = this.tasks.get(options.id);
    if (definition && definition.fn === (fn as unknown)) {
      definition.mapOver = overId;
      definition.maxMapLength = maxMapLength ?? DEFAULT_MAX_MAP_LENGTH;
      if (!overId) definition.declarationProblems.push('over must be a reference to the upstream task whose list this task is mapped over');
      if (maxMapLength !== undefined && !(Number.isInteger(maxMapLength) && maxMapLength >= 1)) definition.declarationProblems.push('maxMapLength must be an integer >= 1');
      if (definition.triggerRule === 'always') definition.declarationProblems.push('a mapped task cannot use trigger rule "always": its list must exist before it runs');
    }
    return ref as unknown as TaskRef<Awaited<R>[], Id>;
  }

  /** Serve a read-only endpoint from this DAG's data (see RouteDefinition). */
  route(definition: RouteDefinition): void {
    this.routes.push(definition);
  }
}

/** Start a DAG. See the module comment for an example. */
export function dag<S extends ParamsSchema = ParamsSchema>(options: DagOptions<S>): Dag<S> {
  return new Dag(options);
}

/** True for a value built by `dag()`, even from another copy of this module. */
export function isDag(value: unknown): value is Dag {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true;
}

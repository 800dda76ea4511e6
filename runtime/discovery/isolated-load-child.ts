/**
 * Child-process side of the runtime fallback (see isolated-load.ts): imports one
 * DAG file the way the engine does and prints its graph as one marked JSON line.
 * Runs in its own process so a DAG's top-level code cannot touch the caller.
 *
 * Usage: node --import <tsx> isolated-load-child.ts <file>
 */
import { register } from 'node:module';
import { toError } from '../errors.ts';

// The same hook bin/weir.js registers: 'weir' resolves to this checkout from any folder.
register('../loader/resolve-hook.mjs', import.meta.url);

/** Prefix of the result line; DAG code may print to stdout too. */
const MARKER = 'WEIR_ISOLATED_LOAD ';
const file = process.argv[2]!;
let result: unknown;
try {
  const { loadDagFile } = await import('../loader/loader.ts');
  const graph = await loadDagFile(file);
  const o = graph.dag.options;
  result = {
    ok: true,
    dagId: graph.dag.id,
    description: o.description ?? null,
    schedule: o.schedule ?? null,
    timezone: graph.options.timezone,
    tags: o.tags ?? [],
    owner: o.owner ?? null,
    catchup: graph.options.timetable.catchup,
    maxActiveRuns: o.maxActiveRuns ?? null,
    startDate: o.startDate ?? null,
    trigger: o.trigger ? ('files' in o.trigger ? { folder: o.trigger.files.folder, pattern: o.trigger.files.pattern } : { assets: [...o.trigger.assets] }) : null,
    tasks: [...graph.tasks.values()].map((t) => ({ id: t.id, upstream: t.upstream, triggerRule: t.triggerRule, retries: t.retries, ...(t.mapOver ? { mapOver: t.mapOver } : {}) })),
  };
} catch (err) {
  result = { ok: false, problems: toError(err).message.split('\n').filter((l) => l.trim()) };
}
process.stdout.write(`\n${MARKER}${JSON.stringify(result)}\n`);
// A DAG file may leave timers or sockets open at top level; the answer is out, so stop here.
process.exit(0);

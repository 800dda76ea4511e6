/** `weir assets list`: the assets DAGs produce and wait for (data-aware runs), with their latest events. */
import type { Command } from 'commander';
import { sql } from '../../database/sql.ts';
import { table } from '../render.ts';
import { print, type Cli } from '../options.ts';

interface AssetRow {
  asset: string;
  events: number;
  last_event_at: Date | null;
  last_dag_id: string | null;
  last_run_id: string | null;
  last_task_id: string | null;
  consumers: string[];
  queued: number;
}

async function listCommand(cli: Cli, opts: { json?: boolean }): Promise<void> {
  const dags = await cli.session().dags();
  const { pool } = await cli.session().database();
  const { rows } = await pool.query<AssetRow>(sql('list_assets'));
  // The code says who produces and who waits; the database says what happened.
  const byName = new Map<string, { asset: string; producers: string[]; consumers: string[]; events: number; queued: number; last_event: { at: string; dag_id: string; run_id: string; task_id: string } | null }>();
  const entry = (asset: string) => {
    let e = byName.get(asset);
    if (!e) byName.set(asset, (e = { asset, producers: [], consumers: [], events: 0, queued: 0, last_event: null }));
    return e;
  };
  for (const g of dags.dags.values()) {
    for (const t of g.tasks.values()) for (const a of t.produces) entry(a).producers.push(`${g.dag.id}.${t.id}`);
    for (const a of g.options.assetTrigger ?? []) entry(a).consumers.push(g.dag.id);
  }
  for (const r of rows) {
    const e = entry(r.asset);
    e.events = r.events;
    e.queued = r.queued;
    for (const c of r.consumers) if (!e.consumers.includes(c)) e.consumers.push(c);
    if (r.last_event_at) e.last_event = { at: r.last_event_at.toISOString(), dag_id: r.last_dag_id!, run_id: r.last_run_id!, task_id: r.last_task_id! };
  }
  const assets = [...byName.values()].sort((a, b) => a.asset.localeCompare(b.asset));
  print(Boolean(opts.json), { assets }, () => (assets.length
    ? table(['asset', 'produced by', 'starts', 'events', 'queued', 'last event'], assets.map((a) => [a.asset, a.producers.join(', ') || '-', a.consumers.join(', ') || '-', String(a.events), String(a.queued), a.last_event ? `${a.last_event.at} ${a.last_event.run_id}` : '-']))
    : 'no assets: a task declares `produces`, a DAG waits with `trigger: { assets }`'));
}

export function registerAssetCommands(program: Command, cli: Cli): void {
  const assets = program.command('assets').description('data-aware runs: what tasks produce and which DAGs wait for it');
  assets.command('list').description('every asset: its producers, the DAGs it starts, its events and the ones queued').option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listCommand(cli, opts));
}

/**
 * Prometheus metrics at `/metrics` (prom-client), for SLIs: runs and tries by DAG and final
 * state, task durations, queue wait (queued → running), scheduler delay (a scheduled run's
 * interval end → its creation), workers alive, alerts by outcome. Counters and histograms are fed by the live
 * event hub, so they count what happened while this server ran (Prometheus' `rate()` and
 * `increase()` handle restarts); gauges are read from the database at each scrape.
 */
import client from 'prom-client';
import type pg from 'pg';
import { sql } from '../database/sql.ts';
import { ALERT_QUEUE } from '../queue.ts';
import { listWorkers } from '../read/runs.ts';
import type { LoadedDags } from '../loader/loader.ts';
import type { EventHub, WeirEvent } from './events.ts';

const FINAL_TRY = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'up_for_retry']);
const FINAL_RUN = new Set(['success', 'failed']);
/** Runs already counted as finished, so a run announced twice is counted once (bounded). */
const REMEMBERED = 50_000;

export class Metrics {
  readonly registry = new client.Registry();
  private readonly counted = new Map<string, string>();
  private readonly runs = new client.Counter({ name: 'weir_runs_total', help: 'DAG runs that finished, by DAG and final state', labelNames: ['dag_id', 'state'], registers: [this.registry] });
  private readonly tries = new client.Counter({ name: 'weir_task_tries_total', help: 'Task tries that ended, by DAG and outcome (up_for_retry: failed, will retry)', labelNames: ['dag_id', 'state'], registers: [this.registry] });
  private readonly duration = new client.Histogram({ name: 'weir_task_duration_seconds', help: 'Duration of task tries that ended', labelNames: ['dag_id'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600], registers: [this.registry] });
  private readonly queueWait = new client.Histogram({ name: 'weir_queue_wait_seconds', help: 'Time a try waited from queued to running', labelNames: ['dag_id'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600], registers: [this.registry] });
  private readonly unsubscribe: () => void;

  constructor(pool: pg.Pool, hub: EventHub, dags: () => LoadedDags) {
    this.unsubscribe = hub.subscribe((e) => this.observe(e));
    new client.Gauge({
      name: 'weir_workers_alive', help: 'Workers whose heartbeat is current', registers: [this.registry],
      async collect() {
        this.set((await listWorkers(pool, 1000)).filter((w) => w.status === 'alive').length);
      },
    });
    new client.Gauge({
      name: 'weir_alerts', help: 'Alerts (failure alerts, queued emails and webhook posts, deadline and volume alerts) by outcome over the alert queue\'s 7-day retention: sent, retrying, failed, pending', labelNames: ['outcome'], registers: [this.registry],
      async collect() {
        this.reset();
        for (const outcome of ['sent', 'retrying', 'failed', 'pending']) this.set({ outcome }, 0);
        const { rows } = await pool.query<{ outcome: string; n: number }>(sql('alert_counts'), [ALERT_QUEUE]);
        for (const r of rows) this.set({ outcome: r.outcome }, r.n);
      },
    });
    new client.Gauge({
      name: 'weir_scheduler_delay_seconds', help: "How long after its data interval ended each DAG's latest scheduled run was created", labelNames: ['dag_id'], registers: [this.registry],
      async collect() {
        this.reset();
        const { rows } = await pool.query<{ dag_id: string; delay_s: number }>(sql('scheduler_delays'), [[...dags().dags.keys()]]);
        for (const r of rows) this.set({ dag_id: r.dag_id }, r.delay_s);
      },
    });
  }

  private observe(e: WeirEvent): void {
    if (e.type === 'task_instance') {
      const d = e.data as { state: string; duration_ms: number | null; start_date: string | null; queued_at?: string | null };
      if (FINAL_TRY.has(d.state)) {
        this.tries.inc({ dag_id: e.dag_id, state: d.state });
        if (d.duration_ms !== null && d.duration_ms !== undefined && d.state !== 'skipped' && d.state !== 'upstream_failed') this.duration.observe({ dag_id: e.dag_id }, d.duration_ms / 1000);
      } else if (d.state === 'running' && d.start_date && d.queued_at) {
        this.queueWait.observe({ dag_id: e.dag_id }, Math.max(0, Date.parse(d.start_date) - Date.parse(d.queued_at)) / 1000);
      }
    } else if (e.type === 'run' && e.run_id) {
      const state = String(e.data.state);
      if (!FINAL_RUN.has(state) || this.counted.get(e.run_id) === state) return;
      this.counted.set(e.run_id, state);
      if (this.counted.size > REMEMBERED) this.counted.delete(this.counted.keys().next().value!);
      this.runs.inc({ dag_id: e.dag_id, state });
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.unsubscribe();
  }
}

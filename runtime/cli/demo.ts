/**
 * `weir demo` (`npm run demo`): the flagship stock_prices DAG end to end on the
 * zero-setup defaults — embedded PostgreSQL, the local Twelve Data server (when
 * TWELVE_DATA_BASE_URL is unset), and the email outbox (when WEIR_SMTP_URL is
 * unset) — with live progress, then the run's summary, the checked average, and
 * where the alert email is. The run's tasks go to a private queue worked by this
 * process, so a `weir worker` running elsewhere never takes them.
 */
import path from 'node:path';
import type { Session } from './session.ts';
import { parseConf } from '../engine/params.ts';
import { runInProcess } from './in-process.ts';
import { logger } from '../log.ts';
import { outboxDir } from '../outbox.ts';

export interface DemoOptions {
  conf?: string;
  pairs?: string[];
  json: boolean;
}

/** What the demo checks unless told otherwise: 2020, the year in the bundled real data; AAPL breaches. */
const DEMO_DEFAULTS = ['symbol=AAPL', 'start_date=2020-01-01', 'end_date=2020-12-31'];

export async function runDemo(session: Session, options: DemoOptions): Promise<{ state: string; summary: Record<string, unknown>; text: string }> {
  let server: { url: string; close(): Promise<void> } | undefined;
  // The demo narrates; engine logs only when something is wrong (WEIR_LOG_LEVEL overrides).
  if (!process.env.WEIR_LOG_LEVEL) logger.level = 'warn';
  const out = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  if (!process.env.TWELVE_DATA_BASE_URL) {
    const { startTwelveDataServer } = await import('../dev/twelve-data-server.ts');
    server = await startTwelveDataServer({ apiKey: 'demo' });
    process.env.TWELVE_DATA_BASE_URL = server.url;
    process.env.TWELVE_DATA_API_KEY = 'demo';
    out(`• Twelve Data: local dev server at ${server.url} (bundled 2020 prices; set TWELVE_DATA_BASE_URL and TWELVE_DATA_API_KEY for the real API)`);
  } else {
    out(`• Twelve Data: ${process.env.TWELVE_DATA_BASE_URL}`);
  }
  const graph = await session.dag('stock_prices');
  const userPairs = options.pairs ?? [];
  const overridden = new Set([...userPairs.map((p) => p.split('=')[0]), ...Object.keys(options.conf ? (JSON.parse(options.conf) as object) : {})]);
  const conf = parseConf(graph.dag, { conf: options.conf, pairs: [...DEMO_DEFAULTS.filter((p) => !overridden.has(p.split('=')[0])), ...userPairs] });
  const engine = await session.engine();
  out(`• PostgreSQL: ${engine.db.embedded ? `embedded, data in ${path.join(session.config.home, 'pg')}` : 'WEIR_DATABASE_URL'}`);
  out(`• Email: ${session.config.smtpUrl ? 'SMTP (WEIR_SMTP_URL)' : `outbox folder ${outboxDir(session.config.home)}`}`);
  const sentAlerts: { run_id: string; task_id: string; transport: string; files?: { html?: string; eml?: string } }[] = [];
  const alertArrived = new Set<() => void>();
  const alertFor = (runId: string, timeoutMs: number) => new Promise<(typeof sentAlerts)[number] | undefined>((resolve) => {
    const check = () => {
      const found = sentAlerts.find((a) => a.run_id === runId && a.task_id === 'email_alert');
      if (!found) return;
      clearTimeout(timer);
      alertArrived.delete(check);
      resolve(found);
    };
    const timer = setTimeout(() => {
      alertArrived.delete(check);
      resolve(undefined);
    }, timeoutMs);
    alertArrived.add(check);
    check();
  });
  try {
    // The threshold alert is queued by its task and sent by an alerter: the demo runs one.
    return await runInProcess(session, graph, {
      runType: 'manual', conf, queuePrefix: 'weir_demo', concurrency: 4, shutdownGraceMs: 2000, alerterPollingSeconds: 0.5,
      onStart: ({ alerter }) => alerter!.on('alert:sent', (e: (typeof sentAlerts)[number]) => {
        sentAlerts.push(e);
        for (const wake of alertArrived) wake();
      }),
      onCreated: (runId) => out(`• Run ${runId} with params ${JSON.stringify(conf)}\n`),
    }, async ({ runId, state }) => {
      const { rows } = await engine.pool.query<{ task_id: string; state: string; output: unknown; duration_ms: number | null }>(
        'SELECT task_id, state, output, duration_ms FROM weir.task_instance WHERE run_id = $1 ORDER BY start_date NULLS LAST',
        [runId],
      );
      const outputs = Object.fromEntries(rows.map((r) => [r.task_id, r.output]));
      const check = outputs.threshold_check as { value?: number; average?: number; min?: number; max?: number; breached?: boolean } | null;
      const alertState = rows.find((r) => r.task_id === 'email_alert')?.state;
      const alert = alertState === 'success' ? await alertFor(runId, 20_000) : undefined;
      const lines = [
        '',
        `run ${runId}: ${state}`,
        ...rows.map((r) => `  ${r.task_id.padEnd(16)} ${r.state}`),
      ];
      if (check) {
        const avg = check.value ?? check.average;
        lines.push('', `${String(conf.symbol)} average daily mid price ${conf.start_date} → ${conf.end_date}: ${typeof avg === 'number' ? avg.toFixed(2) : String(avg)} (bounds [${check.min}, ${check.max}]): ${check.breached ? 'OUT OF BOUNDS' : 'within bounds'}`);
      }
      if (alertState === 'success') {
        lines.push(!alert ? 'alert email queued: it is sent once SMTP accepts it (see `weir worker`)' : alert.files?.html ? `alert email written: open ${alert.files.html}\n  (raw message: ${alert.files.eml})` : `alert email sent via ${alert.transport ?? 'SMTP'}`);
      } else if (alertState === 'skipped') {
        lines.push('no alert: the check passed, so email_alert was skipped');
      }
      // The hints are about the bundled 2020 data, so only when the local server answered.
      if (state === 'success' && server) {
        lines.push('', alertState === 'skipped'
          ? 'Try another symbol: npm run demo -- -p symbol=DIS   (DIS\'s 2020 average lies below 130: an alert)'
          : 'Try another symbol: npm run demo -- -p symbol=AMZN   (AMZN\'s 2020 average lies inside [130, 150]: no alert)');
      } else if (state !== 'success') lines.push('', `See what failed: npx weir runs show ${runId}`);
      return { state, summary: { run_id: runId, state, conf, tasks: rows }, text: lines.join('\n') };
    });
  } finally {
    await server?.close();
  }
}

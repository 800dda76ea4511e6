/**
 * trips_gold_checks — whenever trips_ingest's gold task has added a file (the asset
 * warehouse.trips_gold has a new event), check that gold still adds up: every region's
 * weekly trips and similar-trip groups sum to its trips in silver, weeks are ISO weeks,
 * and no aggregate is empty. A data-aware run (`trigger: { assets }`): no schedule, no
 * polling; several files landing close together make one run. Audited like the others.
 *
 * Why a DAG of its own rather than a task of trips_ingest: it looks at the whole of gold,
 * not one file, so it runs once for a burst of files, and a failing check does not hold a
 * file in landing/.
 */
import { dag } from 'weir';
import { sqlFile, withConnection } from 'weir/tasks/postgres';
import { check, runChecks } from 'weir/tasks/quality';
import { withAudit } from 'weir/tasks/audit';

const d = dag({
  id: 'trips_gold_checks',
  description: 'Checks that trips gold adds up, each time trips_ingest has added to it',
  tags: ['trips', 'quality'],
  owner: 'data-team',
  trigger: { assets: ['warehouse.trips_gold'] },
  maxActiveRuns: 1,
});

d.task({ id: 'checks', description: 'gold against silver, ISO weeks, non-empty aggregates' }, (ctx) =>
  withConnection('warehouse', (pool) => withAudit(pool, ctx, { step: 'gold_checks', source: 'trips.silver', target: 'trips.gold_weekly, trips.gold_similar' }, async () => {
    const report = await runChecks(pool, ctx, [
      check.sql('gold adds up to silver in every region', sqlFile('warehouse/trips/gold_matches_silver.sql')),
      check.range('trips.gold_weekly', 'week', { min: 1, max: 53 }),
      check.range('trips.gold_weekly', 'trips', { min: 1 }),
      check.rowCount('trips.gold_weekly', { min: 1 }),
      check.unique('trips.gold_weekly', ['region', 'year', 'week']),
    ], { signal: ctx.signal });
    ctx.log.info('gold checked', { summary: report.summary });
    return { result: { summary: report.summary, passed: report.passed }, rowsIn: report.checks.length };
  }), { max: 1 }));

export default d;

// weir's web UI, progressive enhancement only: every page works without this file.
// - live updates: task-instance and run states from /api/weir/v1/events (Server-Sent
//   Events; the browser resumes with Last-Event-ID after a drop);
// - the log tail of a running try;
// - the trigger form's inline checks and its form/JSON switch.
'use strict';

const STATES = ['none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped'];

function setState(el, state) {
  for (const s of STATES) el.classList.remove(`s-${s}`);
  el.classList.add(`s-${state}`);
  if (el.classList.contains('state')) el.textContent = state;
  if (el.title) el.title = el.title.replace(/: [a-z_]+$/, `: ${state}`);
}

function cssEscape(s) {
  return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
}

async function refreshFragments(selectors) {
  const res = await fetch(location.href, { headers: { accept: 'text/html' } });
  if (!res.ok) return;
  const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
  for (const sel of selectors) {
    const fresh = doc.querySelector(sel);
    const old = document.querySelector(sel);
    if (fresh && old) old.replaceWith(fresh);
  }
}

// Refreshes run one at a time, and again after one whose page was rendered before the
// latest event: a slower older fetch never replaces a newer one.
let refreshTimer;
let refreshing = false;
let again = false;
async function refreshLoop(selectors) {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do { again = false; await refreshFragments(selectors); } while (again);
  } finally {
    refreshing = false;
  }
}
function refreshSoon(selectors) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshLoop(selectors), 100);
}

/** Apply a task-instance event; false when the page has nothing of that run to update. */
function onTaskInstance(e) {
  const cells = document.querySelectorAll(`[data-run="${cssEscape(e.run_id)}"][data-task="${cssEscape(e.task_id)}"]`);
  for (const el of cells) setState(el, e.state);
  for (const box of document.querySelectorAll(`.graph-box[data-run="${cssEscape(e.run_id)}"], table.tis[data-run="${cssEscape(e.run_id)}"]`)) {
    for (const el of box.querySelectorAll(`[data-task="${cssEscape(e.task_id)}"]`)) {
      if (el.tagName === 'TR') { const badge = el.querySelector('.st .state'); if (badge) setState(badge, e.state); } else setState(el, e.state);
    }
  }
  return cells.length > 0;
}

function onRun(e) {
  for (const el of document.querySelectorAll(`.run-head[data-run="${cssEscape(e.run_id)}"]`)) setState(el, e.state);
  if (document.body.dataset.liveRun === e.run_id) {
    const badge = document.querySelector('h1 .state');
    if (badge) setState(badge, e.state);
  }
}

function onLog(e) {
  const pre = document.querySelector(`pre.log[data-tail="1"][data-run="${cssEscape(e.run_id)}"][data-task="${cssEscape(e.task_id)}"][data-try="${e.try_number}"]`);
  if (!pre) return;
  const last = Number(pre.dataset.last || '0');
  e.lines.forEach((line, i) => {
    if (e.from + i <= last) return;
    const span = document.createElement('span');
    span.className = `l-${line.level}`;
    span.textContent = `${line.ts} ${String(line.level).toUpperCase()} ${line.msg}${line.fields ? ` ${JSON.stringify(line.fields)}` : ''}\n`;
    pre.appendChild(span);
  });
  pre.dataset.last = String(Math.max(last, e.from + e.lines.length - 1));
}

function live() {
  const b = document.body.dataset;
  if (!b.liveDag && !b.liveRun && !b.liveDags && !b.liveWorkers) return;
  // From the event the page was rendered after: nothing between the two is missed.
  const params = new URLSearchParams();
  if (b.liveRun) params.set('run_id', b.liveRun);
  else if (b.liveDag) params.set('dag_id', b.liveDag);
  if (b.eventsFrom) params.set('last_event_id', b.eventsFrom);
  const source = new EventSource(`/api/weir/v1/events?${params}`);
  const fragments = b.liveWorkers ? ['table.workers'] : b.liveDags ? ['table.dags'] : b.liveRun ? ['table.tis', '.gantt'] : ['.grid-box', '.graph-box'];
  // On the grid, an event of a run it does not show yet (its column arrives with a refresh
  // that may have been rendered before this event): refresh again.
  source.addEventListener('task_instance', (m) => {
    const shown = onTaskInstance(JSON.parse(m.data));
    if (b.liveDags || (!shown && b.liveDag && !b.liveRun)) refreshSoon(fragments);
  });
  source.addEventListener('run', (m) => { onRun(JSON.parse(m.data)); if (b.liveDags || b.liveRun) refreshSoon(fragments); });
  source.addEventListener('log', (m) => onLog(JSON.parse(m.data)));
  source.addEventListener('dag_runs', () => refreshSoon(fragments));
  source.addEventListener('reset', () => refreshSoon(fragments));
  source.addEventListener('worker', () => { if (b.liveWorkers) refreshSoon(fragments); });
  source.addEventListener('ready', () => { document.body.dataset.liveReady = '1'; });
}

// ---- the trigger form ----

function fieldError(input) {
  const kind = input.dataset.kind;
  if (kind === 'json' && input.value.trim() !== '') {
    try { JSON.parse(input.value); } catch { return 'must be valid JSON'; }
  }
  const v = input.validity;
  if (v.valueMissing) return 'required';
  if (v.badInput || v.typeMismatch) return kind === 'integer' || kind === 'number' ? 'must be a number' : 'has the wrong type';
  if (v.stepMismatch) return 'must be a whole number';
  if (v.rangeUnderflow) return `must be ≥ ${input.min}`;
  if (v.rangeOverflow) return `must be ≤ ${input.max}`;
  if (v.tooShort) return `must be at least ${input.minLength} characters`;
  if (v.tooLong) return `must be at most ${input.maxLength} characters`;
  if (v.patternMismatch) return `must match ${input.pattern}`;
  return '';
}

function check(input) {
  const msg = fieldError(input);
  const box = input.closest('.field');
  const out = document.getElementById(`${input.id}-error`);
  if (out) out.textContent = msg;
  if (box) box.classList.toggle('invalid', Boolean(msg));
  return !msg;
}

function triggerForm() {
  const form = document.querySelector('form.trigger');
  if (!form) return;
  const mode = () => form.querySelector('input[name="__mode"]:checked')?.value || 'form';
  const showMode = () => { form.dataset.mode = mode(); };
  showMode();
  for (const r of form.querySelectorAll('input[name="__mode"]')) r.addEventListener('change', showMode);
  const fields = [...form.querySelectorAll('.mode-form [name^="p."]')];
  for (const f of fields) {
    f.addEventListener('input', () => check(f));
    f.addEventListener('blur', () => check(f));
  }
  form.addEventListener('submit', (ev) => {
    if (mode() === 'json') {
      const t = form.querySelector('#conf-json');
      const err = t.parentElement.querySelector('.error');
      try { const v = JSON.parse(t.value); if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object'); err.textContent = ''; } catch (e) { err.textContent = `conf is not valid JSON: ${e.message}`; ev.preventDefault(); }
      return;
    }
    const ok = fields.map(check).every(Boolean);
    if (!ok) { ev.preventDefault(); fields.find((f) => !check(f))?.focus(); }
  });
}

document.addEventListener('DOMContentLoaded', () => {
  live();
  triggerForm();
});

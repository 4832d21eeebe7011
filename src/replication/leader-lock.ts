import type { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import pg from "pg";

/** At most one holder across processes; a holder that stops renewing loses it within its TTL. */
export interface LeaderLock {
  tryAcquire(): Promise<boolean>;
  /** False when the lock was lost (expired and taken, or its connection died). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class RedisLeaderLock implements LeaderLock {
  private token = randomUUID();

  constructor(
    private redis: Redis,
    private key: string,
    private ttlMs: number,
  ) {}

  async tryAcquire() {
    return (await this.redis.set(this.key, this.token, "PX", this.ttlMs, "NX")) === "OK";
  }

  async renew() {
    return (await this.redis.eval(RENEW, 1, this.key, this.token, this.ttlMs)) === 1;
  }

  async release() {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}

/** Without Redis: a session-level advisory lock, held as long as its dedicated connection lives. */
export class PostgresLeaderLock implements LeaderLock {
  private client: pg.Client | undefined;

  constructor(
    private databaseUrl: string,
    private lockId: number,
  ) {}

  async tryAcquire() {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on("error", () => {});
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [this.lockId]);
    if (rows[0]?.ok) {
      this.client = client;
      return true;
    }
    await client.end();
    return false;
  }

  async renew() {
    if (!this.client) return false;
    try {
      await this.client.query("SELECT 1");
      return true;
    } catch {
      return false;
    }
  }

  async release() {
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }
}

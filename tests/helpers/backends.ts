import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export type BackendName = "pglite" | "postgres" | "clickhouse";
export const backendNames: BackendName[] = ["pglite", "postgres"];

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with \`npm test\`, which starts PostgreSQL and Redis`);
  return value;
}

export const redisUrl = () => required("TEST_REDIS_URL");

/** A new, empty database on the suite's PostgreSQL server. */
export async function freshPostgresDatabase(): Promise<string> {
  const admin = new URL(required("TEST_DATABASE_URL"));
  const name = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  admin.pathname = `/${name}`;
  return admin.toString();
}

export const tempDir = (prefix = "sessions-") => mkdtempSync(join(process.env.TEST_RUNTIME_DIR ?? tmpdir(), prefix));

/** A new database name on the suite's ClickHouse (created by the service's migrations). */
export function freshClickHouseUrl(): string {
  const url = new URL(required("TEST_CLICKHOUSE_URL"));
  url.pathname = `/t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  return url.toString();
}

/**
 * Configuration for one backend: PGlite in a fresh directory, a fresh PostgreSQL database, or
 * PostgreSQL replicated into a fresh ClickHouse database that serves the lists.
 */
export async function backendEnv(name: BackendName): Promise<Record<string, string>> {
  if (name === "pglite") return { DATA_DIR: tempDir() };
  const postgres = { DATA_DIR: tempDir(), DATABASE_URL: await freshPostgresDatabase() };
  return name === "postgres" ? postgres : { ...postgres, CLICKHOUSE_URL: freshClickHouseUrl(), REPLICATION_FLUSH_MS: "20" };
}

/** A TCP port nothing listens on right now, for servers a test starts itself. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

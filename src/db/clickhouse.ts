import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const migrationsDir = fileURLToPath(new URL("../../clickhouse/migrations/", import.meta.url));

/** CLICKHOUSE_URL is `http(s)://[user:password@]host:port[/database]`; the database defaults to `default`. */
export function openClickHouse(url: string): { client: ClickHouseClient; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || "default";
  const client = createClient({
    url: u.origin,
    username: decodeURIComponent(u.username) || "default",
    password: decodeURIComponent(u.password),
    database,
    clickhouse_settings: { date_time_input_format: "best_effort" },
  });
  return { client, database };
}

/**
 * Applies the SQL files in clickhouse/migrations in name order, once each, recording them in
 * `_sessions_migrations`. Every statement is idempotent, so two processes starting together are safe.
 */
export async function migrateClickHouse(url: string): Promise<string[]> {
  const { client, database } = openClickHouse(url);
  try {
    const admin = openClickHouse(new URL("/", url).toString()).client;
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database.replace(/`/g, "")}\`` });
    await admin.close();
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS _sessions_migrations (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY name`,
    });
    const done = new Set(
      (await (await client.query({ query: "SELECT name FROM _sessions_migrations FINAL", format: "JSONEachRow" })).json<{ name: string }>()).map((r) => r.name),
    );
    const applied: string[] = [];
    for (const file of (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql")).sort()) {
      const name = file.replace(/\.sql$/, "");
      if (done.has(name)) continue;
      const sql = await readFile(migrationsDir + file, "utf8");
      for (const statement of sql.split(/;\s*$/m).map((s) => s.replace(/^\s*--.*$/gm, "").trim()).filter(Boolean)) {
        await client.command({ query: statement });
      }
      await client.insert({ table: "_sessions_migrations", values: [{ name }], format: "JSONEachRow" });
      applied.push(name);
    }
    return applied;
  } finally {
    await client.close();
  }
}

/** ClickHouse's DateTime64(3) text form, in UTC: how the sessions table and its queries write times. */
export const toClickHouseTime = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");

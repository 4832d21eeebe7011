import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Database, ScriptRunner } from "./database.js";

const migrationsDir = fileURLToPath(new URL("../../prisma/migrations/", import.meta.url));
// Any constant: it keeps two processes starting at once from migrating together.
const MIGRATION_LOCK = 727_001;

/**
 * The first line of a migration that must run outside a transaction: `CREATE INDEX CONCURRENTLY`
 * (which cannot run in one) builds an index on a large table without blocking its writes. Such a
 * migration is one statement per `;`-terminated line group, each `IF NOT EXISTS`, so a run cut
 * short can run again.
 */
const NO_TRANSACTION = "-- migrate: no-transaction";

/** `CREATE INDEX CONCURRENTLY IF NOT EXISTS "name"`: the index a statement builds. */
const concurrentIndex = /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+"([^"]+)"/i;

/**
 * Applies pending SQL migrations in name order, each in its own transaction (or, when it starts
 * with NO_TRANSACTION, statement by statement), recording them in `_sessions_migrations`. The same
 * files serve PostgreSQL and PGlite.
 */
export async function migrate(db: Database): Promise<string[]> {
  const names = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return db.withScriptRunner(async (runner) => {
    await takeLock(runner);
    try {
      await runner.exec(
        `CREATE TABLE IF NOT EXISTS "_sessions_migrations" ("name" TEXT PRIMARY KEY, "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await runner.query<{ name: string }>(`SELECT "name" FROM "_sessions_migrations"`)).map((r) => r.name),
      );
      const applied: string[] = [];
      for (const name of names.filter((n) => !done.has(n))) {
        const sql = await readFile(`${migrationsDir}${name}/migration.sql`, "utf8");
        const record = `INSERT INTO "_sessions_migrations" ("name") VALUES ('${name.replace(/'/g, "''")}')`;
        if (sql.startsWith(NO_TRANSACTION)) {
          for (const statement of statementsOf(sql)) await runStandalone(runner, statement);
          await runner.exec(record);
        } else {
          await runner.exec(`BEGIN;\n${sql}\n;${record};\nCOMMIT;`);
        }
        applied.push(name);
      }
      return applied;
    } catch (error) {
      await runner.exec("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      await runner.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  });
}

/**
 * The migration lock, polled rather than waited for: a process blocked in pg_advisory_lock is in a
 * statement, which a concurrent index build of the lock's holder would wait for (a deadlock that
 * PostgreSQL resolves by failing one of the two start-ups).
 */
async function takeLock(runner: ScriptRunner) {
  for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
    const [row] = await runner.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK]);
    if (row?.locked) return;
    await sleep(wait);
  }
}

/** A no-transaction migration's statements: comments dropped, split after each `;` that ends a line. */
export function statementsOf(sql: string): string[] {
  return sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * One statement on its own. An index that a concurrent build left invalid (the build failed or was
 * cut short) would make `IF NOT EXISTS` skip it for good: it is dropped first and built again.
 */
async function runStandalone(runner: ScriptRunner, statement: string) {
  const index = concurrentIndex.exec(statement)?.[1];
  if (index) {
    const [invalid] = await runner.query<{ invalid: boolean }>(
      `SELECT NOT i.indisvalid AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
      [index],
    );
    if (invalid?.invalid) await runner.exec(`DROP INDEX CONCURRENTLY IF EXISTS "${index}"`);
  }
  await runner.exec(statement);
}

import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Database } from "./database.js";

const migrationsDir = fileURLToPath(new URL("../../prisma/migrations/", import.meta.url));
// Any constant: it keeps two processes starting at once from migrating together.
const MIGRATION_LOCK = 727_001;

/**
 * Applies pending SQL migrations in name order, each in its own transaction, recording them in
 * `_sessions_migrations`. The same files serve PostgreSQL and PGlite.
 */
export async function migrate(db: Database): Promise<string[]> {
  const names = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return db.withScriptRunner(async (runner) => {
    await runner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
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
        await runner.exec(`BEGIN;\n${sql}\n;INSERT INTO "_sessions_migrations" ("name") VALUES ('${name.replace(/'/g, "''")}');\nCOMMIT;`);
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

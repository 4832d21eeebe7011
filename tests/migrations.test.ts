import { afterAll, describe, expect, it } from "vitest";
import { openPGlite, openPostgres, type Database } from "../src/db/database.js";
import { migrate, statementsOf } from "../src/db/migrate.js";
import { freshPostgresDatabase, tempDir } from "./helpers/backends.js";

/**
 * The migration runner: ordinary migrations in one transaction each, `-- migrate: no-transaction`
 * ones (concurrent index builds) statement by statement, on PostgreSQL and PGlite alike, with
 * several processes starting at once.
 */
describe("migrations", () => {
  const opened: Database[] = [];
  const open = (url: string) => {
    const db = openPostgres(url);
    opened.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
  });

  const LIST_INDEXES = ["sessions_environment_id_created_at_id_idx", "sessions_tags_idx"];
  const validIndexes = async (db: Database) =>
    (
      await db.sql.query<{ relname: string }>(
        `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indisvalid AND c.relname = ANY($1) ORDER BY 1`,
        [LIST_INDEXES],
      )
    ).map((r) => r.relname);

  it("splits a no-transaction migration into its statements, comments left out", () => {
    expect(statementsOf(`-- migrate: no-transaction\n-- why\nCREATE INDEX CONCURRENTLY a ON t (x);\n\n-- more\nCREATE INDEX CONCURRENTLY b\n  ON t (y);\n`)).toEqual([
      "CREATE INDEX CONCURRENTLY a ON t (x)",
      "CREATE INDEX CONCURRENTLY b\n  ON t (y)",
    ]);
  });

  it("three processes starting at once on a new database all come up, and the list indexes are built and valid", async () => {
    const url = await freshPostgresDatabase();
    const dbs = [open(url), open(url), open(url)];
    const applied = await Promise.all(dbs.map((db) => migrate(db)));
    // Exactly one process applied each migration; the others found them done.
    expect(applied.flat().sort()).toEqual([...applied.find((a) => a.length > 0)!].sort());
    expect(applied.flat()).toContain("20261228000000_session_list_indexes");
    expect(await validIndexes(dbs[0]!)).toEqual(LIST_INDEXES);
  });

  it("rebuilds an index a cut-short concurrent build left invalid, instead of skipping it", async () => {
    const db = open(await freshPostgresDatabase());
    await migrate(db);
    // What a failed CREATE INDEX CONCURRENTLY leaves behind, and the migration not recorded.
    await db.sql.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'sessions_tags_idx'::regclass`);
    await db.sql.query(`DELETE FROM "_sessions_migrations" WHERE name = '20261228000000_session_list_indexes'`);
    expect(await validIndexes(db)).toEqual([LIST_INDEXES[0]]);
    expect(await migrate(db)).toEqual(["20261228000000_session_list_indexes"]);
    expect(await validIndexes(db)).toEqual(LIST_INDEXES);
  });

  it("the dashboard's first page reads the index in order: no sort, no scan of the environment", async () => {
    const db = open(await freshPostgresDatabase());
    await migrate(db);
    // On an empty table the planner may still prefer a scan: it is told not to, so only a usable index can serve.
    const forced = await db.withScriptRunner(async (runner) => {
      await runner.exec("SET enable_seqscan = off; SET enable_sort = off");
      return (
        await runner.query<{ "QUERY PLAN": string }>(`EXPLAIN SELECT * FROM sessions WHERE environment_id = 'env_x' ORDER BY created_at DESC, id DESC LIMIT 26`)
      ).map((r) => r["QUERY PLAN"]);
    });
    expect(forced.join("\n")).toContain("sessions_environment_id_created_at_id_idx");
    expect(forced.join("\n")).not.toMatch(/\bSort\b/);
  });

  it("runs the same migrations on PGlite", async () => {
    const db = await openPGlite(tempDir());
    opened.push(db);
    expect(await migrate(db)).toContain("20261228000000_session_list_indexes");
    expect(await validIndexes(db)).toEqual(LIST_INDEXES);
  });
});

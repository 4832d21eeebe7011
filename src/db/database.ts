import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.js";

/**
 * Plain parameterized SQL next to Prisma. Prisma costs several times the driver's CPU per call
 * (about 240 µs against 50 µs here), which shows on the few statements every append and every
 * delivery runs; those go through this instead. bigint columns come back as string or bigint
 * depending on the driver: read them with Number().
 */
export interface Sql {
  query<Row>(text: string, params?: unknown[]): Promise<Row[]>;
}

/** Runs SQL scripts on one connection, so that session-level locks hold across calls. */
export interface ScriptRunner extends Sql {
  exec(sql: string): Promise<void>;
}

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  readonly sql: Sql;
  /** A dedicated connection for migrations; released by the callback's end. */
  withScriptRunner<T>(fn: (runner: ScriptRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function openPostgres(url: string): Database {
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    prisma,
    sql: { query: async (text, params) => (await pool.query(text, params)).rows },
    async withScriptRunner(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (sql) => void (await client.query(sql)),
          query: async (sql, params) => (await client.query(sql, params)).rows,
        });
      } finally {
        client.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

export async function openPGlite(dataDir: string): Promise<Database> {
  const dir = resolve(dataDir, "pglite");
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(join(dir));
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    kind: "pglite",
    prisma,
    // PGlite queues this behind any transaction Prisma holds open on its one connection.
    sql: { query: async <Row>(text: string, params?: unknown[]) => (await db.query<Row>(text, params)).rows },
    withScriptRunner: (fn) =>
      fn({
        exec: async (sql) => void (await db.exec(sql)),
        query: async <Row>(sql: string, params?: unknown[]) => (await db.query<Row>(sql, params)).rows,
      }),
    async close() {
      await prisma.$disconnect();
      // PGlite keeps the process alive until it is closed; $disconnect does not close it.
      await db.close();
    },
  };
}

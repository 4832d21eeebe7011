import type { Config } from "../config.js";
import { openPGlite, openPostgres, type Database } from "./database.js";
import { migrate } from "./migrate.js";

/** PostgreSQL when DATABASE_URL is set, else PGlite in DATA_DIR; migrated either way. */
export async function openDatabase(config: Pick<Config, "DATABASE_URL" | "DATA_DIR">): Promise<Database> {
  const db = config.DATABASE_URL ? openPostgres(config.DATABASE_URL) : await openPGlite(config.DATA_DIR);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

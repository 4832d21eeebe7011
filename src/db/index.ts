/**
 * The databases: PostgreSQL or PGlite (one SQL interface, migrations at start-up) and ClickHouse.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { migrateClickHouse, openClickHouse, toClickHouseTime } from "./clickhouse.js";
export type { Database, Prepared, Sql } from "./database.js";
export { isUniqueViolation } from "./errors.js";
export { openDatabase } from "./open.js";

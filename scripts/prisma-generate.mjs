// Runs `prisma generate` offline. Prisma 7's CLI first tries to download its native schema
// engine, which this project never needs (migrations are plain SQL applied by the service);
// PRISMA_SCHEMA_ENGINE_BINARY is Prisma's documented switch for air-gapped machines, and
// generate only checks that the file exists.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fileURLToPath(import.meta.url), PRISMA_HIDE_UPDATE_MESSAGE: "1" };
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], { stdio: "inherit", env });
process.exit(result.status ?? 1);

import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { announceCredentialChange, audit, createEnvironment, DEFAULT_ENVIRONMENT, findEnvironmentBySlug, listEnvironments, loadMasterKey, rotateSecretKey, SigningKeys } from "../auth/index.js";
import { WebhookSecrets } from "../callbacks/index.js";
import { loadConfig, type Config } from "../config.js";
import type { Database } from "../db/index.js";
import { openDatabase } from "../db/index.js";
import { limits } from "../limits.js";
import { durationSchema } from "../sessions/index.js";

export const envUsage = [
  "sessions env create <slug>",
  "sessions env list",
  "sessions env rotate-key <slug> [--keep-old <duration>]",
  "sessions env rotate-signing-key <slug>",
  "sessions env rotate-webhook-secret <slug>",
].join(" | ");

/** How long `--keep-old` may keep a rotated secret key: as long as a token may live. */
const keepOldSchema = durationSchema("--keep-old", limits.tokenLifetimeMs);

export class UsageError extends Error {}

interface Run {
  config: Config;
  db: Database;
  /** Audit lines go to stderr: stdout carries only the command's one line of output. */
  logger: pino.Logger;
  /** Stands in for a request id in this run's audit lines. */
  requestId: string;
}

/**
 * `sessions env …`: environments and their keys (OPERATING.md). Commands that print a key print
 * exactly one line, so scripts can capture it. Changes reach running servers through Redis or
 * PostgreSQL NOTIFY (src/auth/credential-signals.ts); the embedded PGlite database cannot be opened
 * while a server holds it.
 */
export async function env(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { "keep-old": { type: "string" } } });
  const [command, slug] = positionals;
  const needsSlug = command === "create" || command === "rotate-key" || command === "rotate-signing-key" || command === "rotate-webhook-secret";
  if (!command || !(needsSlug || command === "list") || (needsSlug && !slug) || positionals.length > (needsSlug ? 2 : 1)) {
    throw new UsageError(`usage: ${envUsage}`);
  }
  if (values["keep-old"] !== undefined && command !== "rotate-key") throw new UsageError("--keep-old goes with rotate-key only");
  const keepOldMs = values["keep-old"] === undefined ? 0 : keepOldSchema.parse(values["keep-old"]);

  const config = loadConfig();
  const run: Run = {
    config,
    db: await openDatabase(config),
    logger: pino({ level: config.LOG_LEVEL, base: { source: "cli" } }, pino.destination(2)),
    requestId: `cli_${randomUUID()}`,
  };
  try {
    if (command === "list") {
      for (const e of await listEnvironments(run.db.prisma)) console.log(`${e.slug}\t${e.id}\t${e.createdAt.toISOString()}`);
    } else if (command === "create") {
      const { environment, secretKey } = await createEnvironment(run.db.prisma, slug!);
      // Its webhook signing secret comes with it (environments made elsewhere get theirs on first use).
      await webhookSecrets(run).current(environment.id);
      console.log(secretKey);
    } else if (command === "rotate-key") {
      console.log(await rotateKey(run, slug!, keepOldMs));
    } else if (command === "rotate-webhook-secret") {
      console.log(await rotateWebhookSecret(run, slug!));
    } else {
      console.log(await rotateSigningKey(run, slug!));
    }
    return 0;
  } finally {
    await run.db.close();
  }
}

/** The new secret key. The old one stops at once, or after `keepOldMs`. */
async function rotateKey({ config, db, logger, requestId }: Run, slug: string, keepOldMs: number): Promise<string> {
  const environment = await findEnvironmentBySlug(db.prisma, slug);
  const { secretKey, keptUntil } = await rotateSecretKey(db.prisma, environment.id, { keepOldMs });
  if (environment.slug === DEFAULT_ENVIRONMENT) {
    // The default key kept in DATA_DIR (when it was generated there) follows, so it never holds a dead key.
    const keyFile = join(config.DATA_DIR, "secret-key");
    if (existsSync(keyFile)) writeFileSync(keyFile, `${secretKey}\n`, { mode: 0o600 });
  }
  await announceCredentialChange(config, db, { kind: "credentials", environmentId: environment.id }, (m) => logger.warn(m));
  audit(logger, "secret-key.rotated", { environmentId: environment.id, requestId, slug, oldKeysValidUntil: keptUntil ?? new Date() });
  return secretKey;
}

/** The new signing key's kid (not secret): new tokens carry it; the old key verifies for 30 days more. */
async function rotateSigningKey({ config, db, logger, requestId }: Run, slug: string): Promise<string> {
  const environment = await findEnvironmentBySlug(db.prisma, slug);
  const signingKeys = await SigningKeys.open(db.prisma, loadMasterKey(config).masterKey, logger);
  const { kid, retiredKid } = await signingKeys.rotate(environment.id);
  await announceCredentialChange(config, db, { kind: "credentials", environmentId: environment.id }, (m) => logger.warn(m));
  audit(logger, "signing-key.rotated", { environmentId: environment.id, requestId, slug, kid, retiredKid: retiredKid ?? null });
  return kid;
}

/**
 * The environment's new webhook signing secret ("whsec_..."): callbacks are signed with it at once,
 * and with the old one as well for `limits.webhookSecretGraceMs` (24 h), so receivers can switch.
 * Servers read the secrets at each delivery: nothing to announce.
 */
async function rotateWebhookSecret({ config, db, logger, requestId }: Run, slug: string): Promise<string> {
  const environment = await findEnvironmentBySlug(db.prisma, slug);
  const { secret, oldSignsUntil } = await webhookSecrets({ config, db }).rotate(environment.id);
  audit(logger, "webhook-secret.rotated", { environmentId: environment.id, requestId, slug, oldSignsUntil: oldSignsUntil ?? null });
  return secret;
}

const webhookSecrets = ({ config, db }: Pick<Run, "config" | "db">) =>
  new WebhookSecrets(db.prisma, loadMasterKey(config).masterKey, { graceMs: limits.webhookSecretGraceMs });

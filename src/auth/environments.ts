import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Environment, PrismaClient } from "../generated/prisma/client.js";
import { generateSecretKey, hashSecretKey, randomToken } from "./secret-keys.js";

export const DEFAULT_ENVIRONMENT = "default";
export const slugSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a slug is 1-63 of [a-z0-9-], starting with a letter or digit");

export class EnvironmentExistsError extends Error {}

export async function createEnvironment(prisma: PrismaClient, slug: string, secretKey = generateSecretKey()) {
  const parsedSlug = slugSchema.parse(slug);
  if (await prisma.environment.findUnique({ where: { slug: parsedSlug } })) {
    throw new EnvironmentExistsError(`environment "${parsedSlug}" already exists`);
  }
  const environment = await prisma.environment.create({
    data: {
      id: `env_${randomToken(24)}`,
      slug: parsedSlug,
      secretKeyHash: hashSecretKey(secretKey),
      jwtSecret: randomToken(64),
    },
  });
  return { environment, secretKey };
}

export const listEnvironments = (prisma: PrismaClient) =>
  prisma.environment.findMany({ orderBy: { createdAt: "asc" }, select: { id: true, slug: true, createdAt: true } });

/**
 * Makes sure the default environment exists. With SESSIONS_SECRET_KEY it takes that key; without
 * it, a key is generated once, kept in DATA_DIR and returned so start-up can print it that once.
 */
export async function ensureDefaultEnvironment(
  prisma: PrismaClient,
  opts: { secretKey?: string; dataDir: string },
): Promise<{ environment: Environment; generatedKey?: string }> {
  const existing = await prisma.environment.findUnique({ where: { slug: DEFAULT_ENVIRONMENT } });
  if (opts.secretKey) {
    const secretKeyHash = hashSecretKey(opts.secretKey);
    if (!existing) return { environment: (await createEnvironment(prisma, DEFAULT_ENVIRONMENT, opts.secretKey)).environment };
    if (existing.secretKeyHash === secretKeyHash) return { environment: existing };
    return { environment: await prisma.environment.update({ where: { id: existing.id }, data: { secretKeyHash } }) };
  }
  if (existing) return { environment: existing };
  const keyFile = join(opts.dataDir, "secret-key");
  // A key kept from an earlier start (e.g. a database that was reset) is reused, not replaced.
  const kept = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : undefined;
  const { environment, secretKey } = await createEnvironment(prisma, DEFAULT_ENVIRONMENT, kept || undefined);
  mkdirSync(opts.dataDir, { recursive: true });
  writeFileSync(keyFile, `${secretKey}\n`, { mode: 0o600 });
  return { environment, generatedKey: kept ? undefined : secretKey };
}

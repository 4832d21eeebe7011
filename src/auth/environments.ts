import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { isUniqueViolation } from "../db/index.js";
import type { Environment, PrismaClient } from "../generated/prisma/client.js";
import { findSecretKey, generateSecretKey, hashSecretKey, randomToken, rotateSecretKey } from "./secret-keys.js";

export const DEFAULT_ENVIRONMENT = "default";
export const slugSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a slug is 1-63 of [a-z0-9-], starting with a letter or digit");

export class EnvironmentExistsError extends Error {}

export async function createEnvironment(prisma: PrismaClient, slug: string, secretKey = generateSecretKey()) {
  const parsedSlug = slugSchema.parse(slug);
  if (await prisma.environment.findUnique({ where: { slug: parsedSlug } })) {
    throw new EnvironmentExistsError(`environment "${parsedSlug}" already exists`);
  }
  // Its signing key is made when its first token is minted (SigningKeys.active).
  try {
    const environment = await prisma.environment.create({
      data: {
        id: `env_${randomToken(24)}`,
        slug: parsedSlug,
        secretKeys: { create: { keyHash: hashSecretKey(secretKey) } },
      },
    });
    return { environment, secretKey };
  } catch (error) {
    // Made by another process between the look and the create (nodes starting together).
    if (isUniqueViolation(error)) throw new EnvironmentExistsError(`environment "${parsedSlug}" already exists`);
    throw error;
  }
}

export class UnknownEnvironmentError extends Error {}

export async function findEnvironmentBySlug(prisma: PrismaClient, slug: string): Promise<Environment> {
  const environment = await prisma.environment.findUnique({ where: { slug: slugSchema.parse(slug) } });
  if (!environment) throw new UnknownEnvironmentError(`no environment "${slug}"`);
  return environment;
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
  try {
    return await ensureDefaultOnce(prisma, opts);
  } catch (error) {
    // Another node made it at the same moment (nodes starting together): it is there now.
    if (!(error instanceof EnvironmentExistsError)) throw error;
    return ensureDefaultOnce(prisma, opts);
  }
}

async function ensureDefaultOnce(prisma: PrismaClient, opts: { secretKey?: string; dataDir: string }): Promise<{ environment: Environment; generatedKey?: string }> {
  const existing = await prisma.environment.findUnique({ where: { slug: DEFAULT_ENVIRONMENT } });
  if (opts.secretKey) {
    if (!existing) return { environment: (await createEnvironment(prisma, DEFAULT_ENVIRONMENT, opts.secretKey)).environment };
    const found = await findSecretKey(prisma, hashSecretKey(opts.secretKey));
    if (found?.environmentId === existing.id) return { environment: existing };
    // The variable names the key: any other key of the environment stops, as after a rotation.
    await rotateSecretKey(prisma, existing.id, { secretKey: opts.secretKey });
    return { environment: existing };
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

import { createHash, randomBytes } from "node:crypto";
import type { PrismaClient } from "../generated/prisma/client.js";

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  // 252 = 7 * 36: rejecting the top values keeps every character equally likely.
  for (const b of bytes) if (b < 252) out += alphabet[b % 36];
  return out.length >= length ? out.slice(0, length) : out + randomToken(length - out.length);
}

export const generateSecretKey = () => `sk_${randomToken(40)}`;
export const isSecretKey = (token: string) => token.startsWith("sk_");
export const hashSecretKey = (key: string) => createHash("sha256").update(key).digest("hex");

/** The environment a secret key opens, while the key is valid. */
export async function findSecretKey(prisma: PrismaClient, keyHash: string, now = Date.now()) {
  const row = await prisma.secretKey.findUnique({ where: { keyHash }, select: { environmentId: true, expiresAt: true } });
  if (!row || (row.expiresAt && row.expiresAt.getTime() <= now)) return null;
  return { environmentId: row.environmentId, expiresAt: row.expiresAt?.getTime() ?? Infinity };
}

export interface RotateSecretKeyOptions {
  /** How long the environment's current keys stay valid, in ms. Default 0: they stop at once. */
  keepOldMs?: number;
  /** The new key; default: a generated one. */
  secretKey?: string;
  now?: number;
}

/**
 * Gives the environment a new secret key. The old ones stop at once, or after `keepOldMs`
 * (never later than they already would). Returns the new key, which is stored only as its hash.
 */
export async function rotateSecretKey(prisma: PrismaClient, environmentId: string, options: RotateSecretKeyOptions = {}) {
  const { keepOldMs = 0, secretKey = generateSecretKey(), now = Date.now() } = options;
  const until = new Date(now + keepOldMs);
  await prisma.$transaction(async (tx) => {
    if (keepOldMs > 0) {
      await tx.secretKey.updateMany({ where: { environmentId, OR: [{ expiresAt: null }, { expiresAt: { gt: until } }] }, data: { expiresAt: until } });
      await tx.secretKey.deleteMany({ where: { environmentId, expiresAt: { lte: new Date(now) } } });
    } else {
      await tx.secretKey.deleteMany({ where: { environmentId } });
    }
    await tx.secretKey.create({ data: { keyHash: hashSecretKey(secretKey), environmentId } });
  });
  return { secretKey, keptUntil: keepOldMs > 0 ? until : undefined };
}

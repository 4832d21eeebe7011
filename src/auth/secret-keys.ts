import { createHash, randomBytes } from "node:crypto";

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

import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.js";

const ALGORITHM = "aes-256-gcm";
/** 96-bit nonces, the size GCM is specified for; random per seal (2^32 seals per key are safe). */
const IV_BYTES = 12;
const FORMAT = "v1";

export class MasterKeyMismatchError extends Error {}

/**
 * The key that seals every environment's signing keys in the database (AES-256-GCM), so a copy of
 * the database alone cannot mint tokens. Each sealed value is bound to its row (`context`, the
 * additional authenticated data): a ciphertext moved to another environment or kid does not open.
 */
export class MasterKey {
  /** Short, non-secret fingerprint for log lines: which master key sealed what. */
  readonly fingerprint: string;

  constructor(private key: Buffer) {
    if (key.length !== 32) throw new Error("a master key is 32 bytes");
    this.fingerprint = createHash("sha256").update(key).digest("hex").slice(0, 12);
  }

  /** `v1.<iv>.<ciphertext>.<tag>`, base64url. */
  seal(plaintext: Uint8Array, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv).setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [FORMAT, iv, ciphertext, cipher.getAuthTag()].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
  }

  /** Throws MasterKeyMismatchError when `sealed` was made with another key or for another context. */
  unseal(sealed: string, context: string): Uint8Array {
    const [format, iv, ciphertext, tag] = sealed.split(".");
    if (format !== FORMAT || !iv || ciphertext === undefined || !tag) throw new MasterKeyMismatchError("not a sealed key");
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, Buffer.from(iv, "base64url")).setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]);
    } catch {
      throw new MasterKeyMismatchError("a signing key does not open with this master key: every node must have the same SESSIONS_MASTER_KEY");
    }
  }
}

/** SESSIONS_MASTER_KEY's two spellings (validated in src/config.ts): 64 hex digits, or base64/base64url. */
export function decodeMasterKey(text: string): Buffer {
  return /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
}

export const MASTER_KEY_FILE = "master-key";

/**
 * SESSIONS_MASTER_KEY, or else the key kept in DATA_DIR/master-key, made on first use. Several
 * processes may start at once on a new DATA_DIR: whoever loses the race reads the winner's key.
 */
export function loadMasterKey(config: Pick<Config, "SESSIONS_MASTER_KEY" | "DATA_DIR">): { masterKey: MasterKey; generatedIn?: string } {
  if (config.SESSIONS_MASTER_KEY) return { masterKey: new MasterKey(decodeMasterKey(config.SESSIONS_MASTER_KEY)) };
  const file = join(config.DATA_DIR, MASTER_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    // Written whole under another name, then linked: link() fails if the file exists, so no
    // process ever reads a half-written key or replaces another's.
    const key = randomBytes(32);
    const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(draft, `${key.toString("base64")}\n`, { mode: 0o600 });
    try {
      linkSync(draft, file);
      return { masterKey: new MasterKey(key), generatedIn: file };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(draft);
    }
  }
  const kept = readFileSync(file, "utf8").trim();
  const key = decodeMasterKey(kept);
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte master key`);
  return { masterKey: new MasterKey(key) };
}

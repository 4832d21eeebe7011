import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { PrismaClient } from "../generated/prisma/client.js";
import { limits } from "../limits.js";
import { MasterKey, MasterKeyMismatchError } from "./master-key.js";
import { randomToken } from "./secret-keys.js";

/** An environment's signing key in the clear: only ever in memory. */
export interface SigningKey {
  kid: string;
  key: Uint8Array;
  /** The key migrated from the plaintext `jwt_secret`: verifies tokens that carry no kid. */
  legacy: boolean;
  /** Until when it verifies tokens (ms since the epoch); Infinity for the active key. */
  acceptUntil: number;
}

/**
 * How long a key replaced by a rotation keeps verifying: the longest a token it signed can live,
 * plus a minute for a token signed by a node that had not yet seen the rotation.
 */
export const RETIRED_KEY_GRACE_MS = limits.tokenLifetimeMs + 60_000;

const LEGACY_PREFIX = "plaintext:";
/** Binds a sealed key to its row: a ciphertext copied to another environment or kid does not open. */
const sealContext = (environmentId: string, kid: string) => `signing-key:${environmentId}:${kid}`;
const newKid = () => `kid_${randomToken(20)}`;

export interface SigningKeysOptions {
  /**
   * Called when an environment gets its first key on first use, so that caches holding the
   * environment without it (this node's and others') read it again. Default: nothing.
   */
  onNewKey?: (environmentId: string) => void;
}

/**
 * Per-environment HS256 keys, sealed with the master key in the `signing_keys` table. One is active
 * (new tokens); keys replaced by a rotation still verify the tokens they signed until those can
 * have expired.
 */
export class SigningKeys {
  private constructor(
    private prisma: PrismaClient,
    private masterKey: MasterKey,
    private logger: Pick<Logger, "info" | "error">,
    private onNewKey: (environmentId: string) => void,
  ) {}

  /**
   * Seals what the migration left in the clear, then checks that this master key opens the keys
   * already there, so a node started with the wrong SESSIONS_MASTER_KEY says so in its log at once
   * rather than refusing every token quietly.
   */
  static async open(prisma: PrismaClient, masterKey: MasterKey, logger: Pick<Logger, "info" | "error">, options: SigningKeysOptions = {}): Promise<SigningKeys> {
    const keys = new SigningKeys(prisma, masterKey, logger, options.onNewKey ?? (() => {}));
    const sealed = await keys.sealLegacyKeys();
    if (sealed > 0) logger.info({ sealed, masterKey: masterKey.fingerprint }, "sealed plaintext signing keys with the master key");
    const sample = await prisma.signingKey.findFirst({ where: { NOT: { sealedKey: { startsWith: LEGACY_PREFIX } } }, orderBy: { createdAt: "desc" } });
    if (sample) {
      try {
        masterKey.unseal(sample.sealedKey, sealContext(sample.environmentId, sample.kid));
      } catch (error) {
        if (!(error instanceof MasterKeyMismatchError)) throw error;
        logger.error({ masterKey: masterKey.fingerprint }, `${error.message}; tokens signed with these keys will be refused`);
      }
    }
    return keys;
  }

  /** The key new tokens of the environment are signed with, made on first use. */
  async active(environmentId: string): Promise<SigningKey> {
    let row = await this.prisma.signingKey.findFirst({ where: { environmentId, acceptUntil: null } });
    if (!row) {
      // Two nodes may get here at once: the partial unique index keeps one of their keys.
      const { count } = await this.prisma.signingKey.createMany({ data: [this.newRow(environmentId)], skipDuplicates: true });
      if (count > 0) this.onNewKey(environmentId);
      row = await this.prisma.signingKey.findFirstOrThrow({ where: { environmentId, acceptUntil: null } });
    }
    return this.open(row);
  }

  /**
   * Every key that still verifies the environment's tokens, the active one included. A key this
   * master key cannot open is left out (its tokens are refused) and logged.
   */
  async accepted(environmentId: string, now = Date.now()): Promise<SigningKey[]> {
    const rows = await this.prisma.signingKey.findMany({
      where: { environmentId, OR: [{ acceptUntil: null }, { acceptUntil: { gt: new Date(now) } }] },
    });
    return rows.flatMap((row) => {
      try {
        return [this.open(row)];
      } catch (error) {
        if (!(error instanceof MasterKeyMismatchError)) throw error;
        this.logger.error({ environmentId, kid: row.kid, masterKey: this.masterKey.fingerprint }, error.message);
        return [];
      }
    });
  }

  /**
   * Makes a new active key; the one it replaces verifies for RETIRED_KEY_GRACE_MS more. Keys past
   * their time are removed. Returns the new kid and the retired one (if any).
   */
  async rotate(environmentId: string, now = Date.now()): Promise<{ kid: string; retiredKid?: string }> {
    const row = this.newRow(environmentId);
    const retired = await this.prisma.$transaction(async (tx) => {
      const current = await tx.signingKey.findFirst({ where: { environmentId, acceptUntil: null } });
      if (current) await tx.signingKey.update({ where: { kid: current.kid }, data: { acceptUntil: new Date(now + RETIRED_KEY_GRACE_MS) } });
      await tx.signingKey.create({ data: row });
      await tx.signingKey.deleteMany({ where: { environmentId, acceptUntil: { lte: new Date(now) } } });
      return current?.kid;
    });
    return { kid: row.kid, retiredKid: retired };
  }

  private newRow(environmentId: string) {
    const kid = newKid();
    return { kid, environmentId, sealedKey: this.masterKey.seal(randomBytes(32), sealContext(environmentId, kid)) };
  }

  private open(row: { kid: string; environmentId: string; sealedKey: string; legacy: boolean; acceptUntil: Date | null }): SigningKey {
    const key = row.sealedKey.startsWith(LEGACY_PREFIX)
      ? // Only between the migration and sealLegacyKeys, which runs before any request.
        new TextEncoder().encode(row.sealedKey.slice(LEGACY_PREFIX.length))
      : this.masterKey.unseal(row.sealedKey, sealContext(row.environmentId, row.kid));
    return { kid: row.kid, key, legacy: row.legacy, acceptUntil: row.acceptUntil?.getTime() ?? Infinity };
  }

  /** Seals the keys the migration copied from the plaintext `jwt_secret` column. */
  private async sealLegacyKeys(): Promise<number> {
    const rows = await this.prisma.signingKey.findMany({ where: { sealedKey: { startsWith: LEGACY_PREFIX } } });
    let sealed = 0;
    for (const row of rows) {
      const key = new TextEncoder().encode(row.sealedKey.slice(LEGACY_PREFIX.length));
      // Conditional on the old value: a node sealing the same row at the same time changes nothing.
      const { count } = await this.prisma.signingKey.updateMany({
        where: { kid: row.kid, sealedKey: row.sealedKey },
        data: { sealedKey: this.masterKey.seal(key, sealContext(row.environmentId, row.kid)) },
      });
      sealed += count;
    }
    return sealed;
  }
}

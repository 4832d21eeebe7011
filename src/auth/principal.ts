import type { PrismaClient } from "../generated/prisma/client.js";
import type { Signal, Signals } from "../realtime/signals.js";
import { AccessTokenError, unverifiedHeader, verifyAccessToken } from "./access-tokens.js";
import { grantsFromScopes, secretKeyGrants, type Grants } from "./scopes.js";
import { findSecretKey, hashSecretKey, isSecretKey } from "./secret-keys.js";
import type { SigningKey, SigningKeys } from "./signing-keys.js";

/** What the caller presented: live subscriptions end when it stops being valid. */
export type Credential =
  | { kind: "secretKey"; keyHash: string }
  | {
      kind: "token";
      /** When the token was issued (its `iat`), in ms since the epoch. */
      issuedAt: number;
      /** When the token expires (its `exp`), in ms since the epoch. */
      expiresAt: number;
    };

/** Who is calling: one environment, and what they may do in it. */
export interface Principal {
  environmentId: string;
  grants: Grants;
  credential: Credential;
}

export type Authentication = { principal: Principal } | { principal: null; failure: string };

export interface AuthenticatorOptions {
  /**
   * How long a secret key's environment, and an environment's signing keys and revocation, are
   * cached, in ms. Changes made here or announced by a signal take effect at once; this bounds how
   * long one that was not announced (a lost signal) can go unnoticed. Default 5,000.
   */
  ttlMs?: number;
  /** Entries a cache holds before it is emptied, so bogus credentials cannot grow it. Default 10,000. */
  maxEntries?: number;
  /**
   * A token naming a kid this process has not seen re-reads its environment's keys at most this
   * often, in ms (a rotation on another node that no signal announced), so random kids cannot turn
   * into a database read each. Default 1,000.
   */
  unknownKidRefreshMs?: number;
}

interface CachedSecretKey {
  environmentId: string;
  /** When the key itself stops (an old key kept by --keep-old), ms; Infinity when it does not. */
  keyExpiresAt: number;
  expires: number;
}

interface CachedEnvironment {
  id: string;
  /** Tokens issued (iat, ms) before this are refused; 0 when none were revoked. */
  revokedBefore: number;
  keys: Map<string, SigningKey>;
  loadedAt: number;
  expires: number;
}

/**
 * Resolves bearer tokens to principals. Secret keys and environments' signing keys are cached
 * briefly, so a busy client does not cost a database round trip per request. Revocations and
 * changed keys take effect at once in this process and, through `signals`, in every process that
 * hears them (Redis, or PostgreSQL NOTIFY for the CLI: src/auth/credential-signals.ts); the TTL
 * bounds the rest.
 */
export class Authenticator {
  private bySecretKey = new Map<string, CachedSecretKey>();
  private environments = new Map<string, CachedEnvironment>();
  /** Bumped by every invalidation: a load that overlapped one is not trusted, and is made again. */
  private epoch = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly unknownKidRefreshMs: number;
  private unsubscribe: () => void;

  constructor(
    private prisma: PrismaClient,
    private signingKeys: SigningKeys,
    signals: Signals,
    options: AuthenticatorOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.unknownKidRefreshMs = options.unknownKidRefreshMs ?? 1_000;
    // Synchronous, so handlers that run after this one (live subscriptions re-checking) see the change.
    this.unsubscribe = signals.subscribe((signal) => this.onSignal(signal));
  }

  async authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (!authorization) return { principal: null, failure: "a secret key or public access token is required" };
    const token = /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]?.trim() ?? authorization.trim();
    return isSecretKey(token) ? this.secretKey(token) : this.accessToken(token);
  }

  /** Drops every cached entry: after signals may have been missed (a lost connection). */
  forgetAll() {
    this.epoch++;
    this.bySecretKey.clear();
    this.environments.clear();
  }

  close() {
    this.unsubscribe();
  }

  private onSignal(signal: Signal) {
    if (signal.kind === "revoke") {
      this.epoch++;
      const cached = this.environments.get(signal.environmentId);
      if (cached) cached.revokedBefore = Math.max(cached.revokedBefore, signal.before);
    } else if (signal.kind === "credentials") {
      this.epoch++;
      this.environments.delete(signal.environmentId);
      for (const [hash, entry] of this.bySecretKey) if (entry.environmentId === signal.environmentId) this.bySecretKey.delete(hash);
    }
  }

  private async secretKey(token: string): Promise<Authentication> {
    const keyHash = hashSecretKey(token);
    const key = await this.cached(this.bySecretKey, keyHash, async () => {
      const found = await findSecretKey(this.prisma, keyHash);
      return found && { environmentId: found.environmentId, keyExpiresAt: found.expiresAt };
    });
    if (!key || key.keyExpiresAt <= Date.now()) return { principal: null, failure: "unknown secret key" };
    return { principal: { environmentId: key.environmentId, grants: secretKeyGrants, credential: { kind: "secretKey", keyHash } } };
  }

  private async accessToken(token: string): Promise<Authentication> {
    const invalid = { principal: null, failure: "invalid access token" } as const;
    const header = unverifiedHeader(token);
    if (!header) return invalid;
    let env = await this.environment(header.sub);
    let key = env && signingKeyOf(env, header.kid);
    if (env && !key && header.kid !== undefined && Date.now() - env.loadedAt >= this.unknownKidRefreshMs) {
      // Perhaps a key rotated on another node a moment ago: read the keys again, once.
      this.environments.delete(env.id);
      env = await this.environment(header.sub);
      key = env && signingKeyOf(env, header.kid);
    }
    if (!env || !key || key.acceptUntil <= Date.now()) return invalid;
    try {
      const claims = await verifyAccessToken(key.key, token);
      // iat carries milliseconds as a fraction of a second; rounding undoes the float's error.
      const issuedAt = Math.round(claims.iat * 1000);
      if (issuedAt < env.revokedBefore) return { principal: null, failure: "access token revoked" };
      const credential = { kind: "token" as const, issuedAt, expiresAt: claims.exp * 1000 };
      return { principal: { environmentId: env.id, grants: grantsFromScopes(claims.scopes), credential } };
    } catch (error) {
      if (error instanceof AccessTokenError) return { principal: null, failure: error.message };
      throw error;
    }
  }

  private environment(id: string): Promise<CachedEnvironment | null> {
    return this.cached(this.environments, id, async () => {
      const row = await this.prisma.environment.findUnique({ where: { id }, select: { id: true, tokensRevokedBefore: true } });
      if (!row) return null;
      const keys = await this.signingKeys.accepted(id);
      return {
        id: row.id,
        revokedBefore: row.tokensRevokedBefore?.getTime() ?? 0,
        keys: new Map(keys.map((k) => [k.kid, k])),
        loadedAt: Date.now(),
      };
    });
  }

  private async cached<V extends { expires: number }>(
    cache: Map<string, V>,
    key: string,
    load: () => Promise<Omit<V, "expires"> | null>,
  ): Promise<V | null> {
    const hit = cache.get(key);
    if (hit && hit.expires > Date.now()) return hit;
    let epoch: number;
    let row: Omit<V, "expires"> | null;
    let attempts = 0;
    do {
      epoch = this.epoch;
      row = await load();
      // A revocation or key change announced during the read may not be in what it returned.
    } while (epoch !== this.epoch && ++attempts < 2);
    const entry = row ? ({ ...row, expires: Date.now() + this.ttlMs } as V) : null;
    // Misses are not cached: a key created a moment ago must work at once.
    if (entry && epoch === this.epoch) cache.set(key, entry);
    else cache.delete(key);
    if (cache.size > this.maxEntries) cache.clear();
    return entry;
  }
}

/** The key a token names; a token without a kid predates kids and was signed with the migrated key. */
function signingKeyOf(env: CachedEnvironment, kid: string | undefined): SigningKey | undefined {
  if (kid !== undefined) return env.keys.get(kid);
  for (const key of env.keys.values()) if (key.legacy) return key;
  return undefined;
}

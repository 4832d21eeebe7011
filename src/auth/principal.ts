import type { PrismaClient } from "../generated/prisma/client.js";
import type { Signal, Signals } from "../live/index.js";
import { AccessTokenError, unverifiedHeader, verifyAccessToken } from "./access-tokens.js";
import { CredentialCache } from "./credential-cache.js";
import { grantsFromScopes, secretKeyGrants, type Grants } from "./scopes.js";
import { findSecretKey, hashSecretKey, isSecretKey } from "./secret-keys.js";
import type { SigningKey, SigningKeys } from "./signing-keys.js";

/** What the caller presented: live subscriptions end when it stops being valid. */
export type Credential =
  | {
      kind: "secretKey";
      keyHash: string;
      /** When a rotated-out key stops working (`--keep-old`), in ms since the epoch; Infinity for the current key. */
      expiresAt: number;
    }
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
}

interface CachedEnvironment {
  id: string;
  /** Tokens issued (iat, ms) before this are refused; 0 when none were revoked. */
  revokedBefore: number;
  keys: Map<string, SigningKey>;
  loadedAt: number;
}

/**
 * Resolves bearer tokens to principals. Secret keys and environments' signing keys are cached
 * briefly, so a busy client does not cost a database round trip per request. Revocations and
 * changed keys take effect at once in this process and, through `signals`, in every process that
 * hears them (Redis, or PostgreSQL NOTIFY for the CLI: src/auth/credential-signals.ts); the TTL
 * bounds the rest.
 */
export class Authenticator {
  private secretKeys: CredentialCache<CachedSecretKey>;
  private environments: CredentialCache<CachedEnvironment>;
  private readonly unknownKidRefreshMs: number;
  private unsubscribe: () => void;

  constructor(
    private prisma: PrismaClient,
    private signingKeys: SigningKeys,
    signals: Signals,
    options: AuthenticatorOptions = {},
  ) {
    const cacheOptions = { ttlMs: options.ttlMs ?? 5_000, maxEntries: options.maxEntries ?? 10_000 };
    this.secretKeys = new CredentialCache(cacheOptions);
    this.environments = new CredentialCache(cacheOptions);
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
    this.secretKeys.invalidate();
    this.environments.invalidate();
  }

  close() {
    this.unsubscribe();
  }

  private onSignal(signal: Signal) {
    if (signal.kind === "revoke") {
      // Applied in place: the environment's keys are still good.
      const cached = this.environments.peek(signal.environmentId);
      if (cached) cached.revokedBefore = Math.max(cached.revokedBefore, signal.before);
      this.environments.invalidate(() => false);
    } else if (signal.kind === "credentials") {
      this.environments.invalidate((id) => id === signal.environmentId);
      this.secretKeys.invalidate((_hash, key) => key.environmentId === signal.environmentId);
    } else if (signal.kind === "missed") {
      this.forgetAll();
    }
  }

  private async secretKey(token: string): Promise<Authentication> {
    const keyHash = hashSecretKey(token);
    const key = await this.secretKeys.get(keyHash, async () => {
      const found = await findSecretKey(this.prisma, keyHash);
      return found && { environmentId: found.environmentId, keyExpiresAt: found.expiresAt };
    });
    if (!key || key.keyExpiresAt <= Date.now()) return { principal: null, failure: "unknown secret key" };
    return { principal: { environmentId: key.environmentId, grants: secretKeyGrants, credential: { kind: "secretKey", keyHash, expiresAt: key.keyExpiresAt } } };
  }

  private async accessToken(token: string): Promise<Authentication> {
    const invalid = { principal: null, failure: "invalid access token" } as const;
    const header = unverifiedHeader(token);
    if (!header) return invalid;
    let env = await this.environment(header.sub);
    let key = env && signingKeyOf(env, header.kid);
    if (env && !key && header.kid !== undefined && Date.now() - env.loadedAt >= this.unknownKidRefreshMs) {
      // Perhaps a key rotated on another node a moment ago: read the keys again, once.
      this.environments.invalidate((id) => id === header.sub);
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
    return this.environments.get(id, async () => {
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
}

/** The key a token names; a token without a kid predates kids and was signed with the migrated key. */
function signingKeyOf(env: CachedEnvironment, kid: string | undefined): SigningKey | undefined {
  if (kid !== undefined) return env.keys.get(kid);
  for (const key of env.keys.values()) if (key.legacy) return key;
  return undefined;
}

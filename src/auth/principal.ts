import type { PrismaClient } from "../generated/prisma/client.js";
import { unverifiedSubject, verifyAccessToken } from "./access-tokens.js";
import { grantsFromScopes, secretKeyGrants, type Grants } from "./scopes.js";
import { hashSecretKey, isSecretKey } from "./secret-keys.js";

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

interface CachedEnvironment {
  id: string;
  jwtSecret: string;
  expires: number;
}

/**
 * Resolves bearer tokens to principals. Environments are cached briefly, so a busy client does
 * not cost a database round trip per request; a changed key takes effect within the TTL.
 */
export class Authenticator {
  private byKeyHash = new Map<string, CachedEnvironment | null>();
  private byId = new Map<string, CachedEnvironment | null>();

  constructor(
    private prisma: PrismaClient,
    private ttlMs = 5_000,
  ) {}

  async authenticate(authorization: string | null | undefined): Promise<Authentication> {
    if (!authorization) return { principal: null, failure: "a secret key or public access token is required" };
    const token = /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]?.trim() ?? authorization.trim();
    if (isSecretKey(token)) {
      const env = await this.cached(this.byKeyHash, hashSecretKey(token), (secretKeyHash) =>
        this.prisma.environment.findUnique({ where: { secretKeyHash } }),
      );
      return env
        ? { principal: { environmentId: env.id, grants: secretKeyGrants, credential: { kind: "secretKey", keyHash: hashSecretKey(token) } } }
        : { principal: null, failure: "unknown secret key" };
    }
    const sub = unverifiedSubject(token);
    const env = sub ? await this.cached(this.byId, sub, (id) => this.prisma.environment.findUnique({ where: { id } })) : null;
    if (!env) return { principal: null, failure: "invalid access token" };
    try {
      const claims = await verifyAccessToken(env.jwtSecret, token);
      const credential = { kind: "token" as const, issuedAt: (claims.iat ?? 0) * 1000, expiresAt: claims.exp * 1000 };
      return { principal: { environmentId: env.id, grants: grantsFromScopes(claims.scopes), credential } };
    } catch (error) {
      const expired = error instanceof Error && "code" in error && error.code === "ERR_JWT_EXPIRED";
      return { principal: null, failure: expired ? "access token expired" : "invalid access token" };
    }
  }

  private async cached(
    cache: Map<string, CachedEnvironment | null>,
    key: string,
    load: (key: string) => Promise<{ id: string; jwtSecret: string } | null>,
  ): Promise<CachedEnvironment | null> {
    const hit = cache.get(key);
    if (hit && hit.expires > Date.now()) return hit;
    const row = await load(key);
    const entry = row ? { id: row.id, jwtSecret: row.jwtSecret, expires: Date.now() + this.ttlMs } : null;
    // Misses are not cached: a key created a moment ago must work at once.
    if (entry) cache.set(key, entry);
    else cache.delete(key);
    if (cache.size > 10_000) cache.clear();
    return entry;
  }
}

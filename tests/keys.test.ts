import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialCache } from "../src/auth/credential-cache.js";
import { hashSecretKey } from "../src/auth/secret-keys.js";
import { loadConfig } from "../src/config.js";
import { createApp } from "../src/server.js";
import { createServices } from "../src/services.js";
import { backendEnv, freshPostgresDatabase, redisUrl, tempDir } from "./helpers/backends.js";
import { startProcess } from "./helpers/process.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const LIST = `{ sessions { totalCount } }`;
const MINT = `mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token expiresAt } }`;
const REVOKE = `mutation { revokePublicAccessTokens { revokedBefore } }`;
const DAY_S = 86_400;

const mint = async (gql: Gql, scopes = ["read:all"], expiresIn = "15m") => {
  const r = await gql(MINT, { s: scopes, e: expiresIn });
  expect(r.errors).toBeUndefined();
  return r.data!.createPublicAccessToken.token as string;
};

/** A token signed by the test itself: every claim and header as given. */
const forge = (key: Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown>) =>
  new SignJWT(payload).setProtectedHeader({ alg: "HS256", ...header }).sign(key);

describe("public access tokens: revocation, claims and kid (embedded default)", () => {
  let server: TestServer;
  let env: { id: string; secretKey: string; gql: Gql };
  const as = (token?: string) => gqlClient(server.url, token);

  beforeAll(async () => {
    server = await startServer("pglite");
    env = await server.newEnvironment();
  });
  afterAll(() => server?.close());

  it("issues tokens with a kid, a jti and iat in milliseconds", async () => {
    const before = Date.now();
    const token = await mint(env.gql);
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    const active = await server.services.signingKeys.active(env.id);
    expect(header).toMatchObject({ alg: "HS256", kid: active.kid });
    expect(claims.jti).toMatch(/^tok_[a-z0-9]{24}$/);
    expect(claims.iat! * 1000).toBeGreaterThanOrEqual(before);
    // Not rounded down to its second: iat carries the milliseconds of the mint.
    expect(claims.iat! * 1000).toBeLessThanOrEqual(Date.now());
  });

  it("revokes tokens issued before the call, not those issued right after, in this environment only", async () => {
    const other = await server.newEnvironment();
    const otherToken = await mint(other.gql);
    const old = await mint(env.gql);
    expect((await as(old)(LIST)).errors).toBeUndefined();
    // Only a secret key may revoke.
    expect(codes(await as(await mint(env.gql, ["admin"]))(REVOKE))).toEqual(["FORBIDDEN"]);
    expect(codes(await as()(REVOKE))).toEqual(["UNAUTHENTICATED"]);

    const r = await env.gql(REVOKE);
    expect(r.errors).toBeUndefined();
    // Minted at once after the answer, within the same second as the revocation.
    const fresh = await mint(env.gql);
    const revokedBefore = Date.parse(r.data!.revokePublicAccessTokens.revokedBefore);
    expect(decodeJwt(old).iat! * 1000).toBeLessThan(revokedBefore);
    expect(Math.abs(revokedBefore - Date.now())).toBeLessThan(5_000);

    const refused = await as(old)(LIST);
    expect(codes(refused)).toEqual(["UNAUTHENTICATED"]);
    expect(refused.errors![0]!.message).toMatch(/revoked/);
    expect((await as(fresh)(LIST)).errors).toBeUndefined();
    expect((await as(otherToken)(LIST)).errors).toBeUndefined();
    // The secret key is not a token: it keeps working.
    expect((await env.gql(LIST)).errors).toBeUndefined();
    // Stored on the environment: the state survives the cache.
    const row = await server.services.prisma.environment.findUniqueOrThrow({ where: { id: env.id } });
    expect(row.tokensRevokedBefore?.getTime()).toBe(revokedBefore);
  });

  describe("claims checked when verifying", () => {
    let key: { kid: string; key: Uint8Array };
    // An environment of its own: nothing revoked in it, so a token issued days ago is fine.
    let fresh: { id: string };
    const now = () => Date.now() / 1000;
    const claims = (extra: Record<string, unknown> = {}) => ({ sub: fresh.id, scopes: ["read:all"], iat: now(), exp: Math.floor(now()) + 600, ...extra });
    const accepted = async (token: string) => (await as(token)(LIST)).errors === undefined;

    beforeAll(async () => {
      fresh = await server.newEnvironment();
      key = await server.services.signingKeys.active(fresh.id);
    });

    it("accepts a well-formed token signed with the environment's key (the control for the cases below)", async () => {
      expect(await accepted(await forge(key.key, { kid: key.kid }, claims()))).toBe(true);
      // Another node's clock may run a little ahead.
      expect(await accepted(await forge(key.key, { kid: key.kid }, claims({ iat: now() + 2 })))).toBe(true);
      expect(await accepted(await forge(key.key, { kid: key.kid }, claims({ iat: now() - 29 * DAY_S, exp: Math.floor(now()) + DAY_S })))).toBe(true);
    });

    it.each([
      ["a lifetime above 30 days", () => claims({ exp: Math.floor(now()) + 30 * DAY_S + 120 })],
      ["an iat in the future", () => claims({ iat: now() + 60, exp: Math.floor(now()) + 600 })],
      ["no iat", () => ({ ...claims(), iat: undefined })],
    ])("refuses %s with UNAUTHENTICATED", async (_name, payload) => {
      const token = await forge(key.key, { kid: key.kid }, JSON.parse(JSON.stringify(payload())));
      expect(codes(await as(token)(LIST))).toEqual(["UNAUTHENTICATED"]);
    });

    it("refuses an unknown kid, a kid of another environment and a token without kid", async () => {
      const other = await server.newEnvironment();
      await mint(other.gql);
      const otherKey = await server.services.signingKeys.active(other.id);
      for (const token of [
        await forge(key.key, { kid: "kid_unknown0000000000000" }, claims()),
        // Another environment's key and kid, claiming this environment.
        await forge(otherKey.key, { kid: otherKey.kid }, claims()),
        // This environment's kid, another environment's key.
        await forge(otherKey.key, { kid: key.kid }, claims()),
        // No kid: only tokens minted before kids existed, with a migrated key, may omit it.
        await forge(key.key, {}, claims()),
      ]) {
        expect(codes(await as(token)(LIST))).toEqual(["UNAUTHENTICATED"]);
      }
    });
  });

  it("rotates the signing key: new tokens carry the new kid, tokens of the old key stay valid", async () => {
    const before = await mint(env.gql);
    const oldKid = decodeProtectedHeader(before).kid;
    const { kid } = await server.services.signingKeys.rotate(env.id);
    server.services.signals.publish({ kind: "credentials", environmentId: env.id });
    expect(kid).not.toBe(oldKid);
    const after = await mint(env.gql);
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    expect((await as(before)(LIST)).errors).toBeUndefined();
    expect((await as(after)(LIST)).errors).toBeUndefined();
    const retired = await server.services.prisma.signingKey.findUniqueOrThrow({ where: { kid: oldKid! } });
    // Accepted until every token it signed can have expired (30 days), no longer.
    expect(retired.acceptUntil!.getTime() - Date.now()).toBeGreaterThan(30 * DAY_S * 1000 - 10_000);
    expect(retired.acceptUntil!.getTime() - Date.now()).toBeLessThan(30 * DAY_S * 1000 + 120_000);
  });

  it("keeps no signing key in the clear in the database", async () => {
    const token = await mint(env.gql);
    const rows = await server.services.prisma.signingKey.findMany({ where: { environmentId: env.id } });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const key = (await server.services.signingKeys.accepted(env.id)).find((k) => k.kid === row.kid)!.key;
      const clear = Buffer.from(key);
      expect(row.sealedKey).toMatch(/^v1\./);
      for (const encoding of ["base64", "base64url", "hex", "latin1"] as const) expect(row.sealedKey).not.toContain(clear.toString(encoding));
      // Whatever the row holds, read as a key, mints nothing.
      const claims = { sub: env.id, scopes: ["admin"], iat: Date.now() / 1000, exp: Math.floor(Date.now() / 1000) + 600 };
      for (const guess of [new TextEncoder().encode(row.sealedKey), ...row.sealedKey.split(".").slice(1).map((p) => Buffer.from(p, "base64url"))]) {
        expect(codes(await as(await forge(guess, { kid: row.kid }, claims))(LIST))).toEqual(["UNAUTHENTICATED"]);
      }
    }
    // The old plaintext column is gone, and the master key is outside the database.
    const columns = await server.services.db.sql.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'environments'`,
    );
    expect(columns.map((c) => c.column_name)).not.toContain("jwt_secret");
    expect(statSync(join(server.env.DATA_DIR!, "master-key")).mode & 0o777).toBe(0o600);
    expect((await as(token)(LIST)).errors).toBeUndefined();
  });
});

describe("audit trail", () => {
  it("logs one line per token minted and per revocation, with environment and request id, never the token", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const config = loadConfig({ ...(await backendEnv("postgres")), PORT: "0" });
    const services = await createServices(config, logger);
    const app = createApp(services);
    const url = await app.listen(0, "127.0.0.1");
    try {
      const { createEnvironment } = await import("../src/auth/environments.js");
      const { environment, secretKey } = await createEnvironment(services.prisma, "audited");
      const call = async (query: string, requestId: string, variables?: Record<string, unknown>) => {
        const res = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${secretKey}`, "x-request-id": requestId },
          body: JSON.stringify({ query, variables }),
        });
        return (await res.json()) as { data: Record<string, Record<string, string>> };
      };
      const { token, expiresAt } = (await call(MINT, "req-mint-1", { s: ["read:all", "write:sessions:chat-1"], e: "1h" })).data.createPublicAccessToken!;
      await call(REVOKE, "req-revoke-1");

      const audited = lines.filter((l) => "audit" in l);
      expect(audited).toEqual([
        expect.objectContaining({
          audit: "token.minted",
          environmentId: environment.id,
          requestId: "req-mint-1",
          jti: decodeJwt(token!).jti,
          kid: decodeProtectedHeader(token!).kid,
          scopes: ["read:all", "write:sessions:chat-1"],
          expiresAt,
        }),
        expect.objectContaining({ audit: "tokens.revoked", environmentId: environment.id, requestId: "req-revoke-1" }),
      ]);
      const text = JSON.stringify(lines);
      expect(text).not.toContain(token!);
      expect(text).not.toContain(token!.split(".")[2]!);
      expect(text).not.toContain(secretKey);
      expect(text).not.toContain(hashSecretKey(secretKey));
    } finally {
      await app.close();
      await services.close();
    }
  });
});

describe("credential cache", () => {
  it("shares one read among concurrent lookups, and reads again when invalidated during a read", async () => {
    const cache = new CredentialCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    let reads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      reads++;
      await gate;
      return `value ${reads}`;
    };
    // Many live subscriptions re-checking at once: one database read.
    const concurrent = Promise.all([cache.get("env", load), cache.get("env", load), cache.get("env", load)]);
    // A change announced while that read was under way: its answer may predate the change.
    await Promise.resolve();
    cache.invalidate((key) => key === "env");
    release();
    expect(await concurrent).toEqual(["value 2", "value 2", "value 2"]);
    expect(reads).toBe(2);
    expect(await cache.get("env", load)).toBe("value 2");
    expect(reads).toBe(2);
  });
});

describe("master key", () => {
  it("is validated as configuration", () => {
    expect(() => loadConfig({ SESSIONS_MASTER_KEY: "too-short" })).toThrow(/SESSIONS_MASTER_KEY/);
    expect(loadConfig({ SESSIONS_MASTER_KEY: randomBytes(32).toString("hex") }).SESSIONS_MASTER_KEY).toHaveLength(64);
    expect(loadConfig({ SESSIONS_MASTER_KEY: randomBytes(32).toString("base64") }).SESSIONS_MASTER_KEY).toHaveLength(44);
  });

  it("seals the signing keys: a node with another master key cannot use them, one with the same can", async () => {
    const env = { ...(await backendEnv("postgres")), SESSIONS_MASTER_KEY: randomBytes(32).toString("base64") };
    const a = await startServer(env);
    const sameKey = await startServer({ ...env, DATA_DIR: tempDir() });
    const otherKey = await startServer({ ...env, DATA_DIR: tempDir(), SESSIONS_MASTER_KEY: randomBytes(32).toString("hex") });
    try {
      const { gql } = await a.newEnvironment();
      const token = await mint(gql);
      expect((await gqlClient(sameKey.url, token)(LIST)).errors).toBeUndefined();
      expect(codes(await gqlClient(otherKey.url, token)(LIST))).toEqual(["UNAUTHENTICATED"]);
    } finally {
      await Promise.all([a.close(), sameKey.close(), otherKey.close()]);
    }
  });
});

describe("upgrade from plaintext jwt_secret (PostgreSQL)", () => {
  it("seals the old key at start-up, keeps its tokens (no kid) valid and signs new ones with a fresh key", async () => {
    const databaseUrl = await freshPostgresDatabase();
    const migrationsDir = fileURLToPath(new URL("../prisma/migrations", import.meta.url));
    const earlier = (await readdir(migrationsDir)).filter((name) => name < "20261201000000_environment_keys").sort();
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const jwtSecret = "legacyjwtsecret".padEnd(64, "x");
    const secretKey = `sk_${"l".repeat(40)}`;
    try {
      // The database as the previous release left it.
      await client.query(`CREATE TABLE "_sessions_migrations" ("name" TEXT PRIMARY KEY, "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now())`);
      for (const name of earlier) {
        await client.query(readFileSync(join(migrationsDir, name, "migration.sql"), "utf8"));
        await client.query(`INSERT INTO "_sessions_migrations" ("name") VALUES ($1)`, [name]);
      }
      await client.query(`INSERT INTO environments (id, slug, secret_key_hash, jwt_secret) VALUES ('env_legacy', 'legacy', $1, $2)`, [hashSecretKey(secretKey), jwtSecret]);
    } finally {
      await client.end();
    }
    // A token of the previous release: no kid, iat in whole seconds.
    const legacyToken = await new SignJWT({ scopes: ["read:all"] })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("env_legacy")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(jwtSecret));

    const server = await startServer({ DATA_DIR: tempDir(), DATABASE_URL: databaseUrl });
    try {
      expect((await gqlClient(server.url, secretKey)(LIST)).errors).toBeUndefined();
      expect((await gqlClient(server.url, legacyToken)(LIST)).errors).toBeUndefined();
      const rows = await server.services.prisma.signingKey.findMany({ where: { environmentId: "env_legacy" } });
      expect(rows).toHaveLength(1);
      expect(rows[0]!.sealedKey).toMatch(/^v1\./);
      expect(rows[0]!.sealedKey).not.toContain(jwtSecret);
      // Retired at once: accepted for the old tokens' lifetime, never used to sign again.
      expect(rows[0]!.acceptUntil).not.toBeNull();
      const fresh = await mint(gqlClient(server.url, secretKey));
      expect(decodeProtectedHeader(fresh).kid).not.toBe(rows[0]!.kid);
      expect((await gqlClient(server.url, fresh)(LIST)).errors).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe("revocation across server processes (PostgreSQL + Redis)", () => {
  let a: TestServer;
  let b: ReturnType<typeof startProcess>;
  let bUrl: string;

  beforeAll(async () => {
    const env = { ...(await backendEnv("postgres")), REDIS_URL: redisUrl(), SESSIONS_MASTER_KEY: randomBytes(32).toString("base64") };
    a = await startServer(env);
    // A process of its own, sharing only PostgreSQL, Redis and the master key with the first node.
    b = startProcess({ ...env, DATA_DIR: tempDir(), SESSIONS_SECRET_KEY: `sk_${"b".repeat(40)}`, LOG_LEVEL: "warn" });
    bUrl = (await b.ready).url;
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.stop();
  });

  it("refuses on the other node, well within the cache's 5 s, what was revoked on one", async () => {
    const { gql } = await a.newEnvironment();
    const old = await mint(gql);
    // Node B has the environment cached, as a busy node would: read after this instant, kept 5 s.
    const warmedAt = Date.now();
    expect((await gqlClient(bUrl, old)(LIST)).errors).toBeUndefined();
    expect((await gql(REVOKE)).errors).toBeUndefined();
    const cacheExpiry = warmedAt + 5_000;
    await expect
      .poll(async () => codes(await gqlClient(bUrl, old)(LIST)), { timeout: Math.max(0, cacheExpiry - 300 - Date.now()), interval: 20 })
      .toEqual(["UNAUTHENTICATED"]);
    // Before B's cache entry could have expired: the signal, not the TTL, did it.
    expect(Date.now()).toBeLessThan(cacheExpiry);
    const fresh = await mint(gql);
    expect((await gqlClient(bUrl, fresh)(LIST)).errors).toBeUndefined();
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authenticator } from "../src/auth/principal.js";
import { backendEnv, redisUrl, tempDir } from "./helpers/backends.js";
import { watchOutput } from "./helpers/process.js";
import { codes, gqlClient, startServer, type TestServer } from "./helpers/test-server.js";

const cli = (env: Record<string, string>, ...args: string[]) =>
  execFileSync("npx", ["tsx", "src/cli/main.ts", ...args], { env: { ...process.env, ...env }, encoding: "utf8" });

describe("sessions CLI", () => {
  let env: Record<string, string>;
  let server: TestServer;
  beforeAll(async () => {
    env = await backendEnv("postgres");
    server = await startServer(env);
  });
  afterAll(() => server?.close());

  it("creates an environment, printing exactly its secret key, which then works", async () => {
    const out = cli(env, "env", "create", "staging");
    expect(out).toMatch(/^sk_[a-z0-9]{40}\n$/);
    const r = await gqlClient(server.url, out.trim())(`mutation { createSession(input: { type: "chat" }) { isCached } }`);
    expect(r.data).toEqual({ createSession: { isCached: false } });
    const list = cli(env, "env", "list");
    expect(list).toMatch(/^staging\tenv_[a-z0-9]+\t\d{4}-/m);
    expect(list).not.toContain("sk_");
    expect(() => cli(env, "env", "create", "staging")).toThrow();
    // Three CLI processes, each starting tsx: about 10 s apiece on a loaded 2-core machine.
  }, 120_000);
});

/** The CLI run to its end: its exit status, its stdout (the one line scripts capture) and its stderr (audit lines, warnings). */
const run = (env: Record<string, string>, ...args: string[]) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { env: { ...process.env, ...env }, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

const LIST = `{ sessions { totalCount } }`;
const MINT = `mutation { createPublicAccessToken(scopes: ["read:all"]) { token } }`;
/**
 * A GraphQL request retried once after a network error: a CLI run lasts seconds, long enough for
 * the server to close fetch's idle keep-alive socket just as it is reused.
 */
const request = (url: string, key: string, query: string) => gqlClient(url, key)(query).catch(() => gqlClient(url, key)(query));
const works = async (url: string, key: string) => (await request(url, key, LIST)).errors === undefined;
/** Each test runs several CLI processes (seconds each on a busy machine). */
const CLI_TEST_MS = 120_000;
/** How long a signal may take to arrive on a busy machine; far below the ten minutes `longCache` below would hold a key. */
const SIGNAL_MS = 4_000;

describe("sessions env rotate-key and rotate-signing-key, against running servers (PostgreSQL)", () => {
  let env: Record<string, string>;
  /** Hears the CLI through Redis. */
  let withRedis: TestServer;
  /** No Redis: hears the CLI through PostgreSQL NOTIFY. */
  let withoutRedis: TestServer;
  beforeAll(async () => {
    env = { ...(await backendEnv("postgres")), SESSIONS_MASTER_KEY: randomBytes(32).toString("base64") };
    withRedis = await startServer({ ...env, REDIS_URL: redisUrl() });
    withoutRedis = await startServer({ ...env, DATA_DIR: tempDir() });
  }, CLI_TEST_MS);
  afterAll(async () => {
    await withRedis?.close();
    await withoutRedis?.close();
  });

  const newEnvironment = (slug: string) => {
    const created = run(env, "env", "create", slug);
    expect(created.status).toBe(0);
    return created.stdout.trim();
  };

  it.each([
    ["through Redis", () => withRedis, () => ({ REDIS_URL: redisUrl() })],
    ["through PostgreSQL NOTIFY, without Redis", () => withoutRedis, () => ({})],
  ])("rotate-key prints only the new key; a running server refuses the old one at once (%s)", async (_how, server, cliEnv) => {
    const slug = `rot-${Math.random().toString(36).slice(2, 8)}`;
    const oldKey = newEnvironment(slug);
    // The running server has the old key cached, as it would under traffic.
    expect(await works(server().url, oldKey)).toBe(true);
    // An authenticator on the server's signals whose cache would hold the old key for ten minutes:
    // only the signal can make it refuse the key in time.
    const { prisma, signingKeys, signals } = server().services;
    const longCache = new Authenticator(prisma, signingKeys, signals, { ttlMs: 600_000 });
    expect((await longCache.authenticate(`Bearer ${oldKey}`)).principal).not.toBeNull();

    const rotated = run({ ...env, ...cliEnv() }, "env", "rotate-key", slug);
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/^sk_[a-z0-9]{40}\n$/);
    const newKey = rotated.stdout.trim();
    expect(newKey).not.toBe(oldKey);
    await expect.poll(async () => (await longCache.authenticate(`Bearer ${oldKey}`)).principal, { timeout: SIGNAL_MS, interval: 20 }).toBeNull();
    longCache.close();
    await expect.poll(() => works(server().url, oldKey), { timeout: SIGNAL_MS, interval: 20 }).toBe(false);
    expect(codes(await request(server().url, oldKey, LIST))).toEqual(["UNAUTHENTICATED"]);
    expect(await works(server().url, newKey)).toBe(true);
    // The audit line names the environment, never a key.
    expect(rotated.stderr).toContain('"audit":"secret-key.rotated"');
    expect(rotated.stderr).not.toContain(newKey);
    expect(rotated.stderr).not.toContain(oldKey);
  }, CLI_TEST_MS);

  it("rotate-key --keep-old keeps the old key valid that long, then refuses it", async () => {
    const slug = `keep-${Math.random().toString(36).slice(2, 8)}`;
    const first = newEnvironment(slug);
    const kept = run({ ...env, REDIS_URL: redisUrl() }, "env", "rotate-key", slug, "--keep-old", "1h");
    expect(kept.status).toBe(0);
    const second = kept.stdout.trim();
    expect(await works(withRedis.url, first)).toBe(true);
    expect(await works(withRedis.url, second)).toBe(true);

    const started = Date.now();
    const brief = run({ ...env, REDIS_URL: redisUrl() }, "env", "rotate-key", slug, "--keep-old", "3s");
    expect(brief.status).toBe(0);
    const third = brief.stdout.trim();
    expect(await works(withRedis.url, third)).toBe(true);
    // Both earlier keys now end with this rotation's 3 s (never later than they already would).
    const { prisma } = withRedis.services;
    const environment = await prisma.environment.findUniqueOrThrow({ where: { slug } });
    const keys = await prisma.secretKey.findMany({ where: { environmentId: environment.id, NOT: { expiresAt: null } } });
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k.expiresAt!.getTime()).toBeGreaterThanOrEqual(started + 3_000 - 50);
    for (const k of keys) expect(k.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3_000);
    await expect.poll(() => works(withRedis.url, first), { timeout: 10_000, interval: 100 }).toBe(false);
    await expect.poll(() => works(withRedis.url, second), { timeout: 10_000, interval: 100 }).toBe(false);
    expect(await works(withRedis.url, third)).toBe(true);
  }, CLI_TEST_MS);

  it("rotate-signing-key prints the new kid: new tokens carry it, tokens signed before stay valid", async () => {
    const slug = `sign-${Math.random().toString(36).slice(2, 8)}`;
    const key = newEnvironment(slug);
    const mint = async () => (await request(withoutRedis.url, key, MINT)).data!.createPublicAccessToken.token as string;
    const before = await mint();
    expect(await works(withRedis.url, before)).toBe(true);

    const rotated = run(env, "env", "rotate-signing-key", slug);
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/^kid_[a-z0-9]{20}\n$/);
    const kid = rotated.stdout.trim();
    expect(kid).not.toBe(decodeProtectedHeader(before).kid);
    expect(rotated.stderr).toContain('"audit":"signing-key.rotated"');

    const after = await mint();
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    for (const server of [withRedis, withoutRedis]) {
      expect(await works(server.url, before)).toBe(true);
      expect(await works(server.url, after)).toBe(true);
    }
  }, CLI_TEST_MS);

  it("refuses an unknown environment and a bad --keep-old with one line and a non-zero status", () => {
    const unknown = run(env, "env", "rotate-key", "no-such-env");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim()).toBe('no environment "no-such-env"');
    expect(unknown.stdout).toBe("");
    const bad = run(env, "env", "rotate-key", "no-such-env", "--keep-old", "soon");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--keep-old must be a duration/);
    expect(run(env, "env", "rotate-key").status).toBe(2);
  }, CLI_TEST_MS);
});

describe("sessions tail", () => {
  it("prints a channel's records as JSON lines, live, and exits when the session closes", async () => {
    const { startServer } = await import("./helpers/test-server.js");
    const { spawn } = await import("node:child_process");
    const server = await startServer("pglite");
    try {
      const { secretKey, gql } = await server.newEnvironment();
      await gql(`mutation { createSession(input: { type: "chat", externalId: "tailed" }) { isCached } }`);
      await gql(`mutation { appendToSession(id: "tailed", io: OUT, records: [{ data: "first" }, { data: "second" }]) { lastSeqNum } }`);
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "tail", "tailed", "--from", "1"], {
        env: { ...process.env, SESSIONS_URL: server.url, SESSIONS_TOKEN: secretKey },
      });
      const out = watchOutput(child.stdout);
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      await out.until("second");
      await gql(`mutation { appendToSession(id: "tailed", io: OUT, records: [{ data: { live: true } }]) { lastSeqNum } }`);
      await out.until("live");
      await gql(`mutation { closeSession(id: "tailed") { id } }`);
      expect(await exited).toBe(0);
      expect(out.text().trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.seqNum, r.data])).toEqual([[1, "second"], [2, { live: true }]]);
    } finally {
      await server.close();
    }
  }, 60_000);
});

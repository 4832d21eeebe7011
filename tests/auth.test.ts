import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/** The auth matrix: every way in that must not get data. Runs on the embedded default. */
describe("auth", () => {
  let server: TestServer;
  let admin: Gql;
  let envId: string;
  let sessionA: string;
  let sessionB: string;

  const token = async (scopes: string[], expiresIn = "15m") => {
    const r = await admin(`mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token scopes expiresAt } }`, { s: scopes, e: expiresIn });
    expect(r.errors).toBeUndefined();
    return r.data!.createPublicAccessToken.token as string;
  };
  const as = (t?: string) => gqlClient(server.url, t);
  const READ = `query($id: ID!) { session(id: $id) { id out { records { seqNum } } } }`;
  const APPEND = `mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "hi" }]) { lastSeqNum } }`;
  const LIST = `{ sessions { totalCount } }`;

  beforeAll(async () => {
    server = await startServer("pglite");
    const env = await server.newEnvironment();
    admin = env.gql;
    envId = env.id;
    sessionA = (await admin(`mutation { createSession(input: { type: "chat", externalId: "ext-a" }) { session { id } } }`)).data!.createSession.session.id;
    sessionB = (await admin(`mutation { createSession(input: { type: "chat", externalId: "ext-b" }) { session { id } } }`)).data!.createSession.session.id;
  });
  afterAll(() => server?.close());

  it("issues HS256 tokens with the environment as subject", async () => {
    const r = await admin(`mutation { createPublicAccessToken(scopes: ["read:all"], expiresIn: "1h") { token scopes expiresAt } }`);
    const { token: jwt, scopes, expiresAt } = r.data!.createPublicAccessToken;
    const [header, payload] = jwt.split(".").slice(0, 2).map((p: string) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: envId, scopes: ["read:all"] });
    expect(scopes).toEqual(["read:all"]);
    expect(Math.abs(Date.parse(expiresAt) - (Date.now() + 3_600_000))).toBeLessThan(5_000);
  });

  it.each([
    ["no token", undefined],
    ["a malformed token", "not-a-token"],
    ["an unknown secret key", `sk_${"x".repeat(40)}`],
  ])("denies %s with UNAUTHENTICATED", async (_name, t) => {
    for (const q of [READ, APPEND, LIST]) {
      const r = await as(t)(q, { id: sessionA });
      expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
      expect(JSON.stringify(r.data ?? null)).not.toContain("session_");
    }
  });

  it("denies expired and tampered tokens", async () => {
    // The shortest lifetime, then its expiry waited for rather than slept through: the token is
    // refused from its `exp` (whole seconds) on, and stays refused.
    const expired = await token(["read:all"], "1s");
    await expect.poll(async () => codes(await as(expired)(LIST)), { timeout: 5_000, interval: 20 }).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await as(expired)(LIST))).toEqual(["UNAUTHENTICATED"]);

    const good = await token(["read:all"]);
    const [h, p, sig] = good.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, scopes: ["admin"] })).toString("base64url");
    expect(codes(await as(`${h}.${forged}.${sig}`)(APPEND, { id: sessionA }))).toEqual(["UNAUTHENTICATED"]);
    const flipped = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith("AA") ? "BB" : "AA"}`;
    expect(codes(await as(flipped)(LIST))).toEqual(["UNAUTHENTICATED"]);
    const wrongKey = await new SignJWT({ scopes: ["admin"] }).setProtectedHeader({ alg: "HS256" }).setSubject(envId).setExpirationTime("1h").sign(new TextEncoder().encode("guess"));
    expect(codes(await as(wrongKey)(LIST))).toEqual(["UNAUTHENTICATED"]);
  });

  it("lets a session-scoped token use only its session, by friendly id or externalId", async () => {
    for (const scope of [`write:sessions:${sessionA}`, "write:sessions:ext-a"]) {
      const t = as(await token([scope]));
      expect((await t(READ, { id: sessionA })).data!.session.id).toBe(sessionA);
      expect((await t(READ, { id: "ext-a" })).data!.session.id).toBe(sessionA);
      expect((await t(APPEND, { id: sessionA })).errors).toBeUndefined();
      // Another session: a lookup finds nothing, a write is forbidden, a list is forbidden.
      expect((await t(READ, { id: sessionB })).data).toEqual({ session: null });
      expect(codes(await t(APPEND, { id: sessionB }))).toEqual(["FORBIDDEN"]);
      expect(codes(await t(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: "ext-b" }))).toEqual(["FORBIDDEN"]);
      expect(codes(await t(LIST))).toEqual(["FORBIDDEN"]);
      expect(codes(await t(`{ sessionTags }`))).toEqual(["FORBIDDEN"]);
    }
  });

  it("keeps read tokens from writing and non-secret keys from minting tokens", async () => {
    const reader = as(await token([`read:sessions:${sessionA}`]));
    expect((await reader(READ, { id: sessionA })).data!.session.id).toBe(sessionA);
    expect(codes(await reader(APPEND, { id: sessionA }))).toEqual(["FORBIDDEN"]);
    const readAll = as(await token(["read:all"]));
    expect((await readAll(LIST)).data!.sessions.totalCount).toBe(2);
    expect(codes(await readAll(`mutation { createSession(input: { type: "x" }) { isCached } }`))).toEqual(["FORBIDDEN"]);
    const adminToken = as(await token(["admin"]));
    expect(codes(await adminToken(`mutation { createPublicAccessToken(scopes: ["admin"]) { token } }`))).toEqual(["FORBIDDEN"]);
    expect((await adminToken(APPEND, { id: sessionB })).errors).toBeUndefined();
  });

  it("lets a token scoped to an externalId create that session and no other", async () => {
    const t = as(await token(["write:sessions:new-chat"]));
    const ok = await t(`mutation { createSession(input: { type: "chat", externalId: "new-chat" }) { isCached session { externalId } } }`);
    expect(ok.data!.createSession).toEqual({ isCached: false, session: { externalId: "new-chat" } });
    expect(codes(await t(`mutation { createSession(input: { type: "chat", externalId: "other" }) { isCached } }`))).toEqual(["FORBIDDEN"]);
    expect(codes(await t(`mutation { createSession(input: { type: "chat" }) { isCached } }`))).toEqual(["FORBIDDEN"]);
  });

  it("rejects bad scopes and lifetimes with BAD_USER_INPUT", async () => {
    for (const [scopes, expiresIn] of [[["root"]], [[]], [["read:sessions:"]], [["read:all"], "forever"], [["read:all"], "90d"]] as const) {
      const r = await admin(`mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token } }`, { s: scopes, e: expiresIn ?? "15m" });
      expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("never lets one environment's token reach another's data", async () => {
    const other = await server.newEnvironment();
    const otherAdmin = (await other.gql(`mutation { createPublicAccessToken(scopes: ["admin"]) { token } }`)).data!.createPublicAccessToken.token;
    for (const t of [other.secretKey, otherAdmin]) {
      expect((await as(t)(READ, { id: sessionA })).data).toEqual({ session: null });
      expect((await as(t)(READ, { id: "ext-a" })).data).toEqual({ session: null });
      expect(codes(await as(t)(APPEND, { id: sessionA }))).toEqual(["NOT_FOUND"]);
      expect((await as(t)(LIST)).data!.sessions.totalCount).toBe(0);
    }
    // A token naming this environment's session by id is still bound to its own environment.
    const cross = (await other.gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`admin:sessions:${sessionA}`] })).data!.createPublicAccessToken.token;
    expect((await as(cross)(READ, { id: sessionA })).data).toEqual({ session: null });
    // Its grant names the session, so it learns only what any caller may: none such here.
    const tail = () => server.services.store.tail({ sessionId: sessionA, io: "IN" });
    const before = await tail();
    expect(codes(await as(cross)(APPEND, { id: sessionA }))).toEqual(["NOT_FOUND"]);
    expect(await tail()).toBe(before);
  });
});

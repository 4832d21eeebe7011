import { AppendInput, AppendRecord, S2 } from "@s2-dev/streamstore";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { rotateSecretKey } from "../src/auth/secret-keys.js";
import { backendEnv, backendNames } from "./helpers/backends.js";
import { subscribe, transports, type Received } from "./helpers/clients.js";
import { twoNodes } from "./helpers/nodes.js";
import { startS2Double } from "./helpers/s2-double.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * The holes of issue #11, each reproduced as a hostile client holding a public token would try
 * it. Every test here failed on the code before the fix.
 */
const CREATE = `mutation($e: String) { createSession(input: { type: "chat", externalId: $e }) { isCached session { id externalId metadata } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateSessionInput!) { updateSession(id: $id, input: $input) { id externalId metadata } }`;
const CLOSE = `mutation($id: ID!) { closeSession(id: $id) { id status } }`;
const GET = `query($id: ID!) { session(id: $id) { id externalId tags metadata status closedAt } }`;
const APPEND = `mutation($id: ID!, $key: String) { appendToSession(id: $id, io: IN, records: [{ data: "hi" }], idempotencyKey: $key) { lastSeqNum } }`;
const WAIT = `mutation($id: ID!) { createSessionWaitpoint(input: { session: $id, timeout: "1h" }) { waitpoint { id status } } }`;
const RECORDS = `subscription($id: ID!) { sessionRecords(id: $id, io: IN, fromSeqNum: 0) { seqNum data } }`;
const CHANGED = `subscription($id: ID!) { sessionChanged(id: $id) { externalId status } }`;
const WAITPOINT_CHANGED = `subscription($id: ID!) { waitpointChanged(id: $id) { id status } }`;

/** A token of the environment that `admin` (a secret key's client) belongs to. */
const mint = async (admin: Gql, scopes: string[], expiresIn = "15m") => {
  const r = await admin(`mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token } }`, { s: scopes, e: expiresIn });
  expect(r.errors).toBeUndefined();
  return r.data!.createPublicAccessToken.token as string;
};

/** Resolves with the codes a subscription ended with, once it has ended. */
const endCodes = async (sub: Received<unknown>) => {
  await sub.done;
  return sub.errors.map((e) => (e as { extensions?: { code?: string } }).extensions?.code);
};

describe.each(backendNames)("authorization on %s", (backend) => {
  let server: TestServer;
  let admin: Gql;
  const as = (token: string) => gqlClient(server.url, token);

  beforeAll(async () => {
    server = await startServer(backend);
    admin = (await server.newEnvironment()).gql;
  });
  afterAll(() => server?.close());

  it("1. refuses a rename to a name the token does not hold, and commits nothing", async () => {
    const mallory = as(await mint(admin, ["write:sessions:user-mallory"]));
    const mine = (await mallory(CREATE, { e: "user-mallory" })).data!.createSession.session;
    const malloryAdmin = as(await mint(admin, ["admin:sessions:user-mallory"]));
    for (const client of [mallory, malloryAdmin]) {
      const r = await client(UPDATE, { id: "user-mallory", input: { externalId: "user-alice", metadata: { planted: true } } });
      expect(codes(r)).toEqual(["FORBIDDEN"]);
    }
    // Nothing was committed: the session keeps its name and metadata, and Alice's name is free.
    expect((await admin(GET, { id: mine.id })).data!.session).toMatchObject({ externalId: "user-mallory", metadata: null });
    const alice = as(await mint(admin, ["write:sessions:user-alice"]));
    expect((await alice(CREATE, { e: "user-alice" })).data!.createSession).toMatchObject({ isCached: false, session: { metadata: null } });
  });

  it("1. keeps a name-scoped token from shedding its name to create sessions without end", async () => {
    const owner = as(await mint(admin, ["admin:sessions:loop"]));
    const { id } = (await owner(CREATE, { e: "loop" })).data!.createSession.session;
    expect(codes(await owner(UPDATE, { id: "loop", input: { externalId: null } }))).toEqual(["FORBIDDEN"]);
    expect((await admin(GET, { id })).data!.session.externalId).toBe("loop");
    // Admin over the session by its friendly id keeps covering it without a name.
    const byId = as(await mint(admin, [`admin:sessions:${id}`]));
    expect((await byId(UPDATE, { id, input: { externalId: null } })).data!.updateSession).toMatchObject({ id, externalId: null });
  });

  it("1. lets admin rename to a name it holds, and a secret key clear a name (externalId: null)", async () => {
    const both = as(await mint(admin, ["admin:sessions:old-name", "admin:sessions:new-name"]));
    const { id } = (await both(CREATE, { e: "old-name" })).data!.createSession.session;
    expect((await both(UPDATE, { id: "old-name", input: { externalId: "new-name" } })).data!.updateSession.externalId).toBe("new-name");
    expect((await admin(UPDATE, { id, input: { externalId: null } })).data!.updateSession.externalId).toBeNull();
    expect((await admin(GET, { id: "new-name" })).data!.session).toBeNull();
  });

  it("3. gives write append and waitpoints, but not update or close", async () => {
    const { id } = (await admin(CREATE, { e: "w-only" })).data!.createSession.session;
    const writer = as(await mint(admin, ["write:sessions:w-only"]));
    expect((await writer(APPEND, { id: "w-only" })).errors).toBeUndefined();
    expect((await writer(WAIT, { id: "w-only" })).errors).toBeUndefined();
    expect(codes(await writer(UPDATE, { id: "w-only", input: { tags: ["x"] } }))).toEqual(["FORBIDDEN"]);
    expect(codes(await writer(CLOSE, { id: "w-only" }))).toEqual(["FORBIDDEN"]);
    expect((await admin(GET, { id })).data!.session).toMatchObject({ tags: [], closedAt: null });
    const owner = as(await mint(admin, ["admin:sessions:w-only"]));
    expect((await owner(UPDATE, { id: "w-only", input: { tags: ["x"] } })).data!.updateSession.id).toBe(id);
    expect((await owner(CLOSE, { id: "w-only" })).data!.closeSession.status).toBe("CLOSED");
  });

  it("4. treats an expired session as closed for appends (every append path) and waitpoints", async () => {
    const { id } = (await admin(CREATE, { e: "expired-1" })).data!.createSession.session;
    expect((await admin(APPEND, { id })).errors).toBeUndefined();
    await server.services.prisma.session.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    expect((await admin(GET, { id })).data!.session.status).toBe("EXPIRED");
    // Alone, batched with concurrent appends, by externalId, and with an idempotency key.
    const attempts = await Promise.all([
      admin(APPEND, { id }),
      ...Array.from({ length: 8 }, () => admin(APPEND, { id: "expired-1" })),
      admin(APPEND, { id, key: "k1" }),
      admin(WAIT, { id }),
    ]);
    for (const r of attempts) expect(codes(r)).toEqual(["SESSION_CLOSED"]);
    expect(await server.services.store.tail({ sessionId: id, io: "IN" })).toBe(1);
  });

  it("7. answers an unreadable waitpoint or node exactly like an unknown one", async () => {
    const { id } = (await admin(CREATE, { e: "secret-7" })).data!.createSession.session;
    const waitpointId = (await admin(WAIT, { id })).data!.createSessionWaitpoint.waitpoint.id;
    const unknown = `waitpoint_${"0".repeat(24)}`;
    const stranger = as(await mint(admin, ["read:sessions:someone-else"]));
    for (const q of [`query($id: ID!) { waitpoint(id: $id) { id } }`, `query($id: ID!) { node(id: $id) { id } }`]) {
      const [hidden, missing] = [await stranger(q, { id: waitpointId }), await stranger(q, { id: unknown })];
      expect(hidden).toEqual(missing);
      expect(hidden.errors).toBeUndefined();
    }
    const [hidden, missing] = [await stranger(`query($id: ID!) { node(id: $id) { id } }`, { id }), await stranger(`query($id: ID!) { node(id: $id) { id } }`, { id: `session_${"0".repeat(24)}` })];
    expect(hidden).toEqual(missing);
    const token = await mint(admin, ["read:sessions:someone-else"]);
    for (const wid of [waitpointId, unknown]) {
      const sub = subscribe(server, "ws", token, WAITPOINT_CHANGED, { id: wid });
      expect(await endCodes(sub)).toEqual(["NOT_FOUND"]);
    }
    // The owner still sees it.
    const owner = as(await mint(admin, ["read:sessions:secret-7"]));
    expect((await owner(`query($id: ID!) { waitpoint(id: $id) { id } }`, { id: waitpointId })).data!.waitpoint.id).toBe(waitpointId);
  });

  it("8. refuses names that are not canonical instead of matching them loosely", async () => {
    for (const name of ["  alice  ", "alice ", "al\u0000ice", "al\nice"]) {
      const r = await admin(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`write:sessions:${name}`] });
      expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
      expect(codes(await admin(CREATE, { e: name }))).toEqual(["BAD_USER_INPUT"]);
    }
    expect((await admin(GET, { id: "alice" })).data!.session).toBeNull();
  });

  it("11. sees a waitpoint complete between its first read and the watch", async () => {
    const { id } = (await admin(CREATE, { e: "race-11" })).data!.createSession.session;
    const waitpointId = (await admin(WAIT, { id })).data!.createSessionWaitpoint.waitpoint.id;
    const waitpoints = server.services.waitpoints;
    const find = waitpoints.find.bind(waitpoints);
    let raced = false;
    // The first read of the subscription sees PENDING; the completion lands right after it.
    waitpoints.find = (async (environmentId: string, wid: string) => {
      const row = await find(environmentId, wid);
      if (wid === waitpointId && !raced) {
        raced = true;
        const completed = new Promise<void>((resolve) => {
          const off = server.services.signals.subscribe((s) => s.kind === "waitpoint" && s.waitpointId === wid && (off(), resolve()));
        });
        await admin(APPEND, { id });
        await completed;
      }
      return row;
    }) as typeof waitpoints.find;
    try {
      const sub = subscribe(server, "ws", await mint(admin, ["read:sessions:race-11"]), WAITPOINT_CHANGED, { id: waitpointId });
      const events = await sub.waitFor(2, 5_000);
      expect(raced).toBe(true);
      expect(events.map((w) => (w as { status: string }).status)).toEqual(["PENDING", "COMPLETED"]);
    } finally {
      waitpoints.find = find;
    }
  });
});

describe.each(transports)("2. live re-checks over %s", (transport) => {
  let server: TestServer;
  let admin: Gql;

  beforeAll(async () => {
    server = await startServer("pglite");
    admin = (await server.newEnvironment()).gql;
  });
  afterAll(() => server?.close());

  /** A session named `name` with one record on `in`, and one pending waitpoint. */
  const setUp = async (name: string) => {
    const { id } = (await admin(CREATE, { e: name })).data!.createSession.session;
    await admin(APPEND, { id });
    const waitpointId = (await admin(WAIT, { id })).data!.createSessionWaitpoint.waitpoint.id as string;
    return { id, waitpointId };
  };
  /** All three subscriptions, each past its first event. */
  const subscribeAll = async (token: string, name: string, waitpointId: string) => {
    const subs = [
      subscribe(server, transport, token, RECORDS, { id: name }),
      subscribe(server, transport, token, CHANGED, { id: name }),
      subscribe(server, transport, token, WAITPOINT_CHANGED, { id: waitpointId }),
    ];
    await Promise.all(subs.map((s) => s.waitFor(1)));
    return subs;
  };

  it("ends every subscription with UNAUTHENTICATED once its token expires", async () => {
    const { waitpointId } = await setUp(`expiry-${transport}`);
    const token = await mint(admin, [`read:sessions:expiry-${transport}`], "3s");
    const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp * 1000;
    const subs = await subscribeAll(token, `expiry-${transport}`, waitpointId);
    for (const sub of subs) expect(await endCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    // Within a second of the expiry.
    expect(Date.now() - exp).toBeLessThan(1_000);
  });

  it("ends every subscription with FORBIDDEN once the session is renamed away from the token's name", async () => {
    const name = `rename-${transport}`;
    const { id, waitpointId } = await setUp(name);
    const subs = await subscribeAll(await mint(admin, [`read:sessions:${name}`]), name, waitpointId);
    expect((await admin(UPDATE, { id, input: { externalId: `${name}-moved` } })).errors).toBeUndefined();
    for (const sub of subs) expect(await endCodes(sub)).toEqual(["FORBIDDEN"]);
    // Records appended after the rename never reached the old name's holder.
    await admin(APPEND, { id });
    expect(subs[0]!.items).toHaveLength(1);
    expect(subs[1]!.items).toEqual([{ externalId: name, status: "ACTIVE" }]);
  });

  it("ends every subscription with UNAUTHENTICATED once the environment's tokens are revoked", async () => {
    const env = await server.newEnvironment();
    const { id } = (await env.gql(CREATE, { e: "revoked" })).data!.createSession.session;
    await env.gql(APPEND, { id });
    const waitpointId = (await env.gql(WAIT, { id })).data!.createSessionWaitpoint.waitpoint.id as string;
    const token = await mint(env.gql, ["read:sessions:revoked"]);
    const subs = [
      subscribe(server, transport, token, RECORDS, { id: "revoked" }),
      subscribe(server, transport, token, CHANGED, { id: "revoked" }),
      subscribe(server, transport, token, WAITPOINT_CHANGED, { id: waitpointId }),
    ];
    await Promise.all(subs.map((sub) => sub.waitFor(1)));
    // Another environment's subscription is untouched by this one's revocation.
    const bystander = subscribe(server, transport, await mint(admin, ["read:all"]), CHANGED, { id: (await setUp(`bystander-${transport}`)).id });
    await bystander.waitFor(1);
    expect((await env.gql(`mutation { revokePublicAccessTokens { revokedBefore } }`)).errors).toBeUndefined();
    for (const sub of subs) expect(await endCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await gqlClient(server.url, token)(GET, { id }))).toEqual(["UNAUTHENTICATED"]);
    // A token minted after the revocation works, even within the same second.
    expect((await gqlClient(server.url, await mint(env.gql, ["read:sessions:revoked"]))(GET, { id })).data!.session.id).toBe(id);
    expect(bystander.errors).toEqual([]);
    bystander.stop();
  });

  it("ends a secret key's subscriptions once the key is rotated out", async () => {
    const env = await server.newEnvironment();
    const { id } = (await env.gql(CREATE, { e: "rotated" })).data!.createSession.session;
    const sub = subscribe(server, transport, env.secretKey, CHANGED, { id });
    await sub.waitFor(1);
    await rotateSecretKey(server.services.prisma, env.id);
    // What `npm run sessions -- env rotate-key` announces to running servers.
    server.services.signals.publish({ kind: "credentials", environmentId: env.id });
    expect(await endCodes(sub)).toEqual(["UNAUTHENTICATED"]);
  });

  it("ends a secret key's subscriptions when a key rotated out with --keep-old expires", async () => {
    const env = await server.newEnvironment();
    const { id } = (await env.gql(CREATE, { e: "kept-old" })).data!.createSession.session;
    const sub = subscribe(server, transport, env.secretKey, CHANGED, { id });
    await sub.waitFor(1);
    const { keptUntil } = await rotateSecretKey(server.services.prisma, env.id, { keepOldMs: 1_500 });
    server.services.signals.publish({ kind: "credentials", environmentId: env.id });
    expect(await endCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    expect(Date.now()).toBeGreaterThanOrEqual(keptUntil!.getTime());
  });

  it("releases every watch when subscriptions end, by the client or by a cut", async () => {
    const name = `watches-${transport}`;
    const { id, waitpointId } = await setUp(name);
    const watches = () => server.services.sessionWatch.size + server.services.waitpoints.watchCount;
    const before = watches();
    const stopped = [subscribe(server, transport, await mint(admin, [`read:sessions:${name}`]), CHANGED, { id: name }), subscribe(server, transport, await mint(admin, [`read:sessions:${name}`]), WAITPOINT_CHANGED, { id: waitpointId })];
    await Promise.all(stopped.map((sub) => sub.waitFor(1)));
    expect(watches()).toBe(before + 2);
    for (const sub of stopped) sub.stop();
    await vi.waitFor(() => expect(watches()).toBe(before), { timeout: 5_000 });
    const cut = await subscribeAll(await mint(admin, [`read:sessions:${name}`]), name, waitpointId);
    await admin(UPDATE, { id, input: { externalId: `${name}-cut` } });
    for (const sub of cut) expect(await endCodes(sub)).toEqual(["FORBIDDEN"]);
    await vi.waitFor(() => expect(watches()).toBe(before), { timeout: 5_000 });
  });

  it("keeps subscriptions whose token still covers the session after a change", async () => {
    const name = `kept-${transport}`;
    const { id } = await setUp(name);
    const sub = subscribe(server, transport, await mint(admin, [`read:sessions:${id}`]), CHANGED, { id: name });
    await sub.waitFor(1);
    await admin(UPDATE, { id, input: { externalId: `${name}-2` } });
    expect(await sub.waitFor(2)).toEqual([{ externalId: name, status: "ACTIVE" }, { externalId: `${name}-2`, status: "ACTIVE" }]);
    expect(sub.errors).toEqual([]);
    sub.stop();
  });
});

describe("5. direct channel access (S2)", () => {
  let server: TestServer;
  let admin: Gql;
  let double: Awaited<ReturnType<typeof startS2Double>>;
  const INIT = `mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { stream basin endpoint accessToken expiresAt } }`;

  /** A client's own append straight to S2 with the stream token it was given: true when S2 took it. */
  const appendDirectly = async (access: { stream: string; basin: string; endpoint: string; accessToken: string }) => {
    const direct = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint }, retry: { maxAttempts: 1 } });
    const stream = direct.basin(access.basin).stream(access.stream, { forceTransport: "fetch" });
    return stream.append(AppendInput.create([AppendRecord.string({ body: JSON.stringify({ direct: true }) })])).then(
      () => true,
      () => false,
    );
  };

  beforeAll(async () => {
    double = await startS2Double("s2-root-token");
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    admin = (await server.newEnvironment()).gql;
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  /** The stream token the S2 double issued: its operations and expiry. */
  const issued = (accessToken: string) => {
    const token = double.issued.find((t) => t.token === accessToken)!;
    return { ops: (token.scope as { ops: string[] }).ops, expiresAt: Date.parse(token.expires_at ?? "") };
  };

  it("never outlives the caller's token, and writes only with write scope on a session that takes writes", async () => {
    const { id } = (await admin(CREATE, { e: "direct-5" })).data!.createSession.session;
    const token = await mint(admin, ["write:sessions:direct-5"], "2m");
    const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp * 1000;
    const open = (await gqlClient(server.url, token)(INIT, { id })).data!.initializeSessionChannel;
    expect(issued(open.accessToken).ops).toContain("append");
    expect(Date.parse(open.expiresAt)).toBeLessThanOrEqual(exp);
    expect(issued(open.accessToken).expiresAt).toBeLessThanOrEqual(exp);

    const reader = (await gqlClient(server.url, await mint(admin, ["read:sessions:direct-5"]))(INIT, { id })).data!.initializeSessionChannel;
    expect(issued(reader.accessToken).ops).not.toContain("append");

    await admin(CLOSE, { id });
    const closed = (await gqlClient(server.url, token)(INIT, { id })).data!.initializeSessionChannel;
    expect(issued(closed.accessToken).ops).toEqual(["read", "check-tail"]);

    const { id: expiring } = (await admin(CREATE, { e: "direct-5-expired" })).data!.createSession.session;
    await server.services.prisma.session.update({ where: { id: expiring }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const expired = (await admin(INIT, { id: expiring })).data!.initializeSessionChannel;
    expect(issued(expired.accessToken).ops).toEqual(["read", "check-tail"]);
  });

  it("revokes stream tokens handed out when the session closes, is renamed, or the caller's token is revoked", async () => {
    const env = await server.newEnvironment();
    const direct = async (name: string) => {
      const { id } = (await env.gql(CREATE, { e: name })).data!.createSession.session;
      const token = await mint(env.gql, [`write:sessions:${name}`]);
      const access = (await gqlClient(server.url, token)(INIT, { id: name })).data!.initializeSessionChannel;
      await env.gql(APPEND, { id });
      expect(await appendDirectly(access)).toBe(true);
      return { id, access };
    };
    const closed = await direct("direct-close");
    await env.gql(CLOSE, { id: closed.id });
    expect(await appendDirectly(closed.access)).toBe(false);

    const renamed = await direct("direct-rename");
    await env.gql(UPDATE, { id: renamed.id, input: { externalId: "direct-rename-2" } });
    expect(await appendDirectly(renamed.access)).toBe(false);

    const revoked = await direct("direct-revoke");
    await env.gql(`mutation { revokePublicAccessTokens { revokedBefore } }`);
    expect(await appendDirectly(revoked.access)).toBe(false);
    // Nothing written after the close, the rename or the revocation: one API append and one direct each.
    for (const { id } of [closed, renamed, revoked]) expect(await server.services.store.tail({ sessionId: id, io: "IN" })).toBe(2);
  });
});

describe("2. live re-checks across two server processes (PostgreSQL + Redis)", () => {
  const nodes = twoNodes();

  it("ends subscriptions on the other node on a rename and on a revocation", async () => {
    const env = await nodes.a.newEnvironment();
    const open = async (name: string, token: string) => {
      const { id } = (await env.gql(CREATE, { e: name })).data!.createSession.session;
      const subs = (["ws", "sse-distinct"] as const).map((transport) => subscribe(nodes.b, transport, token, CHANGED, { id: name }));
      await Promise.all(subs.map((sub) => sub.waitFor(1)));
      return { id, subs };
    };
    const renamedToken = await mint(env.gql, ["read:sessions:node-rename"]);
    const renamed = await open("node-rename", renamedToken);
    await env.gql(APPEND, { id: renamed.id });
    const records = subscribe(nodes.b, "ws", renamedToken, RECORDS, { id: "node-rename" });
    await records.waitFor(1);
    // The append right after the rename races the rename's signal to the other node: it must lose.
    await env.gql(UPDATE, { id: renamed.id, input: { externalId: "node-rename-2" } });
    await env.gql(APPEND, { id: renamed.id });
    for (const sub of [...renamed.subs, records]) expect(await endCodes(sub)).toEqual(["FORBIDDEN"]);
    expect(records.items).toHaveLength(1);

    const token = await mint(env.gql, ["read:sessions:node-revoke"]);
    const revoked = await open("node-revoke", token);
    await env.gql(`mutation { revokePublicAccessTokens { revokedBefore } }`);
    for (const sub of revoked.subs) expect(await endCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await gqlClient(nodes.b.url, token)(GET, { id: revoked.id }))).toEqual(["UNAUTHENTICATED"]);
  });
});

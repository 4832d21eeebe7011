import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendNames } from "./helpers/backends.js";
import { settleReplication } from "./helpers/replication.js";
import { codes, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const SESSION_FIELDS = "id externalId type taskIdentifier tags metadata status closedAt closedReason expiresAt createdAt updatedAt";
const CREATE = `mutation($input: CreateSessionInput!) { createSession(input: $input) { isCached session { ${SESSION_FIELDS} } } }`;

describe.each(backendNames)("control plane on %s", (backend) => {
  let server: TestServer;
  let gql: Gql;
  const create = async (input: Record<string, unknown>) => {
    const r = await gql(CREATE, { input });
    expect(r.errors).toBeUndefined();
    return r.data!.createSession as { isCached: boolean; session: Record<string, any> };
  };

  beforeAll(async () => {
    server = await startServer(backend);
    gql = (await server.newEnvironment()).gql;
  });
  afterAll(() => server?.close());

  it("creates a session with every field and reads it back by id, externalId and node", async () => {
    const { isCached, session } = await create({
      type: "chat",
      externalId: "conv-1",
      taskIdentifier: "agent",
      tags: ["user:1", "beta", "beta"],
      metadata: { model: "x", n: [1, 2] },
      ttl: "1h",
    });
    expect(isCached).toBe(false);
    expect(session.id).toMatch(/^session_[a-z0-9]{20,}$/);
    expect(session).toMatchObject({ externalId: "conv-1", type: "chat", taskIdentifier: "agent", status: "ACTIVE" });
    expect(session.tags).toEqual(["user:1", "beta"]);
    expect(session.metadata).toEqual({ model: "x", n: [1, 2] });
    expect(session.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expiresIn = Date.parse(session.expiresAt) - Date.parse(session.createdAt);
    expect(expiresIn).toBeGreaterThan(3_590_000);
    expect(expiresIn).toBeLessThan(3_610_000);

    for (const id of [session.id, "conv-1"]) {
      const r = await gql(`query($id: ID!) { session(id: $id) { id externalId } }`, { id });
      expect(r.data!.session).toEqual({ id: session.id, externalId: "conv-1" });
    }
    const node = await gql(`query($id: ID!) { node(id: $id) { id ... on Session { type } } }`, { id: session.id });
    expect(node.data!.node).toEqual({ id: session.id, type: "chat" });
    const missing = await gql(`{ a: session(id: "nope") { id } b: session(id: "session_aaaaaaaaaaaaaaaaaaaaaaaa") { id } c: node(id: "whatever") { id } }`);
    expect(missing).toEqual({ data: { a: null, b: null, c: null } });
  });

  it("is idempotent by externalId, also under concurrent creates", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => gql(CREATE, { input: { type: "chat", externalId: "race-1" } })));
    const payloads = results.map((r) => r.data!.createSession);
    expect(new Set(payloads.map((p) => p.session.id)).size).toBe(1);
    expect(payloads.filter((p) => !p.isCached)).toHaveLength(1);
  });

  it("updates tags, metadata and externalId", async () => {
    const { session } = await create({ type: "chat", externalId: "upd-1", tags: ["a"], metadata: { v: 1 } });
    const r = await gql(
      `mutation($id: ID!, $input: UpdateSessionInput!) { updateSession(id: $id, input: $input) { tags metadata externalId updatedAt } }`,
      { id: "upd-1", input: { tags: ["b", "c"], metadata: { v: 2 }, externalId: "upd-2" } },
    );
    expect(r.data!.updateSession).toMatchObject({ tags: ["b", "c"], metadata: { v: 2 }, externalId: "upd-2" });
    expect(Date.parse(r.data!.updateSession.updatedAt)).toBeGreaterThanOrEqual(Date.parse(session.updatedAt));
    const cleared = await gql(`mutation($id: ID!) { updateSession(id: $id, input: { metadata: null }) { metadata tags } }`, { id: session.id });
    expect(cleared.data!.updateSession).toEqual({ metadata: null, tags: ["b", "c"] });
    await create({ type: "chat", externalId: "taken" });
    const clash = await gql(`mutation($id: ID!) { updateSession(id: $id, input: { externalId: "taken" }) { id } }`, { id: session.id });
    expect(codes(clash)).toEqual(["BAD_USER_INPUT"]);
  });

  it("closes once: concurrent closes keep the first closedAt and reason", async () => {
    const { session } = await create({ type: "chat" });
    const closes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        gql(`mutation($id: ID!, $r: String) { closeSession(id: $id, reason: $r) { status closedAt closedReason } }`, { id: session.id, r: `r${i}` }),
      ),
    );
    const closed = closes.map((c) => c.data!.closeSession);
    expect(new Set(closed.map((c) => `${c.closedAt}|${c.closedReason}`)).size).toBe(1);
    expect(closed[0].status).toBe("CLOSED");
    const again = await gql(`mutation($id: ID!) { closeSession(id: $id, reason: "later") { closedAt closedReason } }`, { id: session.id });
    expect(again.data!.closeSession).toEqual({ closedAt: closed[0].closedAt, closedReason: closed[0].closedReason });
  });

  it("derives EXPIRED from expiresAt", async () => {
    // Far enough ahead to be ACTIVE when created even on a loaded machine; then the expiry is
    // waited for, not slept through.
    const { session } = await create({ type: "chat", expiresAt: new Date(Date.now() + 1_000).toISOString() });
    expect(session.status).toBe("ACTIVE");
    await expect
      .poll(async () => (await gql(`query($id: ID!) { session(id: $id) { status } }`, { id: session.id })).data!.session.status, { timeout: 10_000, interval: 20 })
      .toBe("EXPIRED");
  });

  it.each([
    ["externalId starting with session_", { type: "chat", externalId: "session_abc" }],
    ["empty type", { type: "" }],
    ["too long type", { type: "x".repeat(129) }],
    ["too many tags", { type: "chat", tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
    ["empty tag", { type: "chat", tags: [""] }],
    ["metadata over 64 KiB", { type: "chat", metadata: { blob: "x".repeat(70_000) } }],
    ["bad ttl", { type: "chat", ttl: "soon" }],
    ["zero ttl", { type: "chat", ttl: "0s" }],
    ["expiresAt in the past", { type: "chat", expiresAt: "2020-01-01T00:00:00.000Z" }],
    ["expiresAt not a date", { type: "chat", expiresAt: "tomorrow" }],
    ["missing type", { externalId: "x" }],
  ])("rejects %s with BAD_USER_INPUT", async (_name, input) => {
    const r = await gql(CREATE, { input });
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    expect(r.data?.createSession ?? null).toBeNull();
  });

  it("rejects bad arguments elsewhere and stores nothing for them", async () => {
    const before = (await gql(`{ sessions { totalCount } }`)).data!.sessions.totalCount;
    const bad = [
      `{ sessions(first: 101) { totalCount } }`,
      `{ sessions(first: 0) { totalCount } }`,
      `{ sessions(after: "garbage") { totalCount } }`,
      `{ sessions(filter: { period: "forever" }) { totalCount } }`,
      `{ sessions(first: 2, last: 2) { totalCount } }`,
      `{ sessionTags(first: 0) }`,
      `mutation { closeSession(id: "nope") { id } }`,
      `mutation { updateSession(id: "nope", input: {}) { id } }`,
      `{ session(id: 5 }`,
    ];
    for (const q of bad) {
      const r = await gql(q);
      expect(codes(r), q).toHaveLength(1);
      expect(["BAD_USER_INPUT", "NOT_FOUND"]).toContain(codes(r)[0]);
    }
    expect((await gql(`{ sessions { totalCount } }`)).data!.sessions.totalCount).toBe(before);
  });
});

/** The same list expectations for every SessionsRepository: PostgreSQL (on PGlite and on a server) and ClickHouse. */
describe.each([...backendNames, "clickhouse"] as const)("session lists on %s", (backend) => {
  let server: TestServer;
  let gql: Gql;
  const ids: string[] = [];

  beforeAll(async () => {
    server = await startServer(backend);
    gql = (await server.newEnvironment()).gql;
    // 12 sessions, created in order so createdAt ascends; some closed, some expired.
    for (let i = 0; i < 12; i++) {
      const r = await gql(CREATE, {
        input: {
          type: i % 2 ? "chat" : "task",
          externalId: `list-${i}`,
          taskIdentifier: i % 3 === 0 ? "agent-a" : "agent-b",
          tags: [`n:${i}`, i % 4 === 0 ? "vip" : "std"],
          ...(i === 5 && { expiresAt: new Date(Date.now() + 1_000).toISOString() }),
        },
      });
      ids.push(r.data!.createSession.session.id);
    }
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: ids[3] });
    // Session 5 expires a second after it was made (late enough that creating it cannot fail
    // on a loaded machine): wait until the service says so rather than sleeping.
    // (vi.waitFor: expect.poll is for tests, not hooks.)
    await vi.waitFor(
      async () => expect((await gql(`query($id: ID!) { session(id: $id) { status } }`, { id: ids[5] })).data!.session.status).toBe("EXPIRED"),
      { timeout: 10_000, interval: 20 },
    );
    await settleReplication(server.services);
  });
  afterAll(() => server?.close());

  const list = async (args: string, vars: Record<string, unknown> = {}) => {
    const r = await gql(
      `query($filter: SessionFilter, $first: Int, $after: String, $last: Int, $before: String) {
        sessions(filter: $filter, first: $first, after: $after, last: $last, before: $before${args}) {
          totalCount edges { cursor node { id externalId } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
      vars,
    );
    expect(r.errors).toBeUndefined();
    return r.data!.sessions;
  };
  const externalIds = (page: any) => page.edges.map((e: any) => e.node.externalId);

  it("lists newest first and pages forward and backward without overlap", async () => {
    const first = await list("", { first: 5 });
    expect(first.totalCount).toBe(12);
    expect(externalIds(first)).toEqual(["list-11", "list-10", "list-9", "list-8", "list-7"]);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = await list("", { first: 5, after: first.pageInfo.endCursor });
    expect(externalIds(second)).toEqual(["list-6", "list-5", "list-4", "list-3", "list-2"]);
    const third = await list("", { first: 5, after: second.pageInfo.endCursor });
    expect(externalIds(third)).toEqual(["list-1", "list-0"]);
    expect(third.pageInfo.hasNextPage).toBe(false);
    const back = await list("", { last: 5, before: third.pageInfo.startCursor });
    expect(externalIds(back)).toEqual(externalIds(second));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const oldest = await list("", { last: 3 });
    expect(externalIds(oldest)).toEqual(["list-2", "list-1", "list-0"]);
  });

  it("filters by type, tags, taskIdentifier, externalId, status and time", async () => {
    expect((await list("", { filter: { types: ["chat"] } })).totalCount).toBe(6);
    expect(externalIds(await list("", { filter: { tags: ["vip"] } }))).toEqual(["list-8", "list-4", "list-0"]);
    expect(externalIds(await list("", { filter: { tags: ["n:1", "n:2"] } }))).toEqual(["list-2", "list-1"]);
    expect((await list("", { filter: { taskIdentifiers: ["agent-a"] } })).totalCount).toBe(4);
    expect(externalIds(await list("", { filter: { externalId: "list-7" } }))).toEqual(["list-7"]);
    expect(externalIds(await list("", { filter: { statuses: ["CLOSED"] } }))).toEqual(["list-3"]);
    expect(externalIds(await list("", { filter: { statuses: ["EXPIRED"] } }))).toEqual(["list-5"]);
    expect((await list("", { filter: { statuses: ["ACTIVE"] } })).totalCount).toBe(10);
    expect((await list("", { filter: { statuses: ["CLOSED", "EXPIRED"] } })).totalCount).toBe(2);
    expect((await list("", { filter: { types: ["task"], statuses: ["ACTIVE"], tags: ["vip"] } })).totalCount).toBe(3);
    expect((await list("", { filter: { period: "1h" } })).totalCount).toBe(12);
    expect((await list("", { filter: { from: new Date(Date.now() + 60_000).toISOString() } })).totalCount).toBe(0);
    expect((await list("", { filter: { to: "2000-01-01T00:00:00.000Z" } })).totalCount).toBe(0);
  });

  it("lists distinct tags, optionally by search", async () => {
    const all = await gql(`{ sessionTags(first: 100) }`);
    expect(all.data!.sessionTags).toHaveLength(14);
    const search = await gql(`{ sessionTags(search: "N:1") }`);
    expect(search.data!.sessionTags).toEqual(["n:1", "n:10", "n:11"]);
    const percent = await gql(`{ sessionTags(search: "%") }`);
    expect(percent.data!.sessionTags).toEqual([]);
  });

  it("never shows another environment's sessions", async () => {
    const other = await server.newEnvironment();
    expect((await other.gql(`{ sessions { totalCount } }`)).data!.sessions.totalCount).toBe(0);
    expect((await other.gql(`{ sessionTags }`)).data!.sessionTags).toEqual([]);
    const r = await other.gql(`query($id: ID!) { a: session(id: $id) { id } b: session(id: "list-1") { id } }`, { id: ids[0] });
    expect(r.data).toEqual({ a: null, b: null });
    const close = await other.gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: ids[0] });
    expect(codes(close)).toEqual(["NOT_FOUND"]);
    // The same externalId is free in another environment.
    const mine = await other.gql(CREATE, { input: { type: "chat", externalId: "list-1" } });
    expect(mine.data!.createSession.isCached).toBe(false);
    expect(mine.data!.createSession.session.id).not.toBe(ids[1]);
  });
});

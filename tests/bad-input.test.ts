import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../src/errors/api-error.js";
import { limits } from "../src/limits.js";
import { startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * Everything a careless or hostile client might send: each gets a GraphQL error with a contract
 * code and a plain message, never a 500, a stack, SQL or driver text, and nothing stored is lost.
 */
describe("bad input sweep", () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startServer("postgres");
    key = (await server.newEnvironment()).secretKey;
    await post({ query: `mutation { createSession(input: { type: "keep", externalId: "keep" }) { isCached } }` });
    await post({ query: `mutation { appendToSession(id: "keep", io: OUT, records: [{ data: "kept" }]) { lastSeqNum } }` });
  });
  afterAll(() => server?.close());

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  const huge = "x".repeat(1024 * 1024 + 10);
  const cases: [string, unknown][] = [
    ["malformed JSON", '{"query": "{ __typename "'],
    ["JSON that is not an object", "[1, 2"],
    ["no query", { variables: {} }],
    ["query not a string", { query: 42 }],
    ["malformed GraphQL", { query: "mutation { createSession(input: { type: } }" }],
    ["unknown field", { query: "{ nope }" }],
    ["too deep", { query: `{ ${"a { ".repeat(40)}b${" }".repeat(40)} }` }],
    ["too wide", { query: `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: sessionTags`).join(" ")} }` }],
    ["too many tokens", { query: `{ ${"__typename ".repeat(3000)} }` }],
    ["bad variable type", { query: "query($f: Int) { sessions(first: $f) { totalCount } }", variables: { f: "ten" } }],
    ["oversize record", { query: "mutation($d: JSON!) { appendToSession(id: \"keep\", io: OUT, records: [{ data: $d }]) { lastSeqNum } }", variables: { d: huge } }],
    ["bad id", { query: 'mutation { appendToSession(id: "", io: OUT, records: [{ data: 1 }]) { lastSeqNum } }' }],
    ["bad cursor", { query: '{ sessions(after: "!!!") { totalCount } }' }],
    ["bad duration", { query: 'mutation { createSession(input: { type: "x", ttl: "forever" }) { isCached } }' }],
    ["bad DateTime", { query: '{ sessions(filter: { from: "yesterday" }) { totalCount } }' }],
    ["bad SeqNum", { query: '{ session(id: "keep") { out { records(fromSeqNum: -5) { seqNum } } } }' }],
    ["huge SeqNum", { query: "query($s: SeqNum) { session(id: \"keep\") { out { records(fromSeqNum: $s) { seqNum } } } }", variables: { s: 2 ** 60 } }],
    ["bad scope", { query: 'mutation { createPublicAccessToken(scopes: ["root:everything"]) { token } }' }],
    ["bad enum", { query: 'mutation { appendToSession(id: "keep", io: SIDEWAYS, records: [{ data: 1 }]) { lastSeqNum } }' }],
    ["null record data", { query: 'mutation { appendToSession(id: "keep", io: OUT, records: [{ data: null }]) { lastSeqNum } }' }],
    ["bad matchSeqNum", { query: 'mutation { appendToSession(id: "keep", io: OUT, records: [{ data: 1 }], matchSeqNum: 99) { lastSeqNum } }' }],
    ["closed-session append after a bad close", { query: 'mutation { closeSession(id: "nope") { id } }' }],
  ];

  it.each(cases)("%s", async (_name, body) => {
    const { status, text } = await post(body);
    expect(status).toBeLessThan(500);
    const parsed = JSON.parse(text) as { errors?: { message: string; extensions?: { code?: string } }[] };
    expect(parsed.errors?.length).toBeGreaterThan(0);
    for (const e of parsed.errors!) {
      expect(errorCodes).toContain(e.extensions?.code);
      expect(e.extensions?.code).not.toBe("INTERNAL_SERVER_ERROR");
      expect(e.message).not.toMatch(/prisma|postgres|SELECT |INSERT |\bat \/|node_modules|stack/i);
    }
  });

  it("refuses a body over the limit without a 500", async () => {
    const { status } = await post({ query: "{ __typename }", variables: { pad: "x".repeat(5 * 1024 * 1024) } });
    expect(status).toBe(413);
  });

  it("lost nothing that was stored", async () => {
    const { text } = await post({ query: '{ session(id: "keep") { type out { tailSeqNum records { data } } } }' });
    expect(JSON.parse(text).data.session).toEqual({ type: "keep", out: { tailSeqNum: 1, records: [{ data: "kept" }] } });
  });
});

/**
 * Issue #12, item 6: input that used to reach the database or a recursive JSON walk and come back
 * as INTERNAL_SERVER_ERROR with a stack logged at error level. Each is the client's mistake:
 * BAD_USER_INPUT, and nothing at error level in the server's log.
 */
describe("bad input that used to be an internal error", () => {
  let server: TestServer;
  let key: string;
  const errorLines: unknown[] = [];
  beforeAll(async () => {
    server = await startServer("postgres");
    key = (await server.newEnvironment()).secretKey;
    // Every error-level line the service writes, whichever part of it writes one.
    server.services.logger.error = ((...args: unknown[]) => void errorLines.push(args)) as typeof server.services.logger.error;
    await post({ query: `mutation { createSession(input: { type: "keep", externalId: "keep" }) { isCached } }` });
  });
  afterAll(() => server?.close());

  async function post(body: unknown) {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  const cursor = (ms: number) => Buffer.from(JSON.stringify([ms, "session_x"])).toString("base64url");
  const many = Array.from({ length: 100_000 }, (_, i) => `t${i}`);
  const createWith = (input: Record<string, unknown>) => ({
    query: "mutation($input: CreateSessionInput!) { createSession(input: $input) { isCached } }",
    variables: { input: { type: "x", ...input } },
  });
  const waitpointWith = (input: Record<string, unknown>) => ({
    query: "mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { waitpoint { id } } }",
    variables: { input: { session: "keep", io: "IN", timeout: "1h", ...input } },
  });
  const listWith = (filter: Record<string, unknown>, after?: string) => ({
    query: "query($filter: SessionFilter, $after: String) { sessions(filter: $filter, after: $after) { totalCount } }",
    variables: { filter, after },
  });
  const appendData = (data: unknown, idempotencyKey?: string) => ({
    query: 'mutation($d: JSON!, $k: String) { appendToSession(id: "keep", io: IN, records: [{ data: $d }], idempotencyKey: $k) { lastSeqNum } }',
    variables: { d: data, k: idempotencyKey },
  });
  // The nested value is written as JSON text: building it as an object would overflow the test's own stack.
  const deep = (n: number) => `{"query": ${JSON.stringify(appendData(0).query)}, "variables": {"d": ${"[".repeat(n)}${"]".repeat(n)}}}`;

  const cases: [string, unknown][] = [
    ["NUL in externalId", createWith({ externalId: "a\u0000b" })],
    ["NUL in a tag", createWith({ tags: ["a\u0000b"] })],
    ["NUL in metadata", createWith({ metadata: { note: "a\u0000b" } })],
    ["NUL in a metadata key", createWith({ metadata: { "a\u0000b": 1 } })],
    ["NUL in a waitpoint tag", waitpointWith({ tags: ["a\u0000b"] })],
    ["NUL in a waitpoint idempotency key", waitpointWith({ idempotencyKey: "a\u0000b" })],
    ["NUL in an append idempotency key", appendData(1, "a\u0000b")],
    ["NUL in session(id)", { query: "query($id: ID!) { session(id: $id) { id } }", variables: { id: "a\u0000b" } }],
    ["NUL in a tag filter", listWith({ tags: ["a\u0000b"] })],
    ["a lone surrogate in a record", '{"query": ' + JSON.stringify(appendData(0).query) + ', "variables": {"d": {"text": "\\ud800"}}}'],
    ["a lone surrogate in metadata", '{"query": ' + JSON.stringify(createWith({}).query) + ', "variables": {"input": {"type": "x", "metadata": "\\udc00"}}}'],
    ["a cursor past the Date range", listWith({}, cursor(8.64e15 + 1))],
    ["a cursor before the Date range", listWith({}, cursor(-8.64e15 - 1))],
    ["a period beyond the Date range", listWith({ period: "999999999w" })],
    ["from in year 0", listWith({ from: "0000-01-01T00:00:00Z" })],
    ["100k tags in a filter", listWith({ tags: many })],
    ["100k types in a filter", listWith({ types: many })],
    ["a JSON variable nested a million deep", deep(1_000_000)],
    ["a JSON variable nested past the depth limit", deep(limits.jsonDepth + 1)],
  ];

  it.each(cases)("%s: BAD_USER_INPUT, nothing logged at error level", async (_name, body) => {
    errorLines.length = 0;
    const { status, text } = await post(body);
    expect(status).toBeLessThan(500);
    const parsed = JSON.parse(text) as { errors?: { message: string; extensions?: { code?: string } }[] };
    expect(parsed.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    expect(errorLines).toEqual([]);
  });

  it("still accepts JSON nested up to the limit", async () => {
    const { text } = await post(deep(limits.jsonDepth - 1));
    expect(JSON.parse(text).data.appendToSession.lastSeqNum).toBeGreaterThanOrEqual(0);
  });
});

describe("input validation (the zod schemas named by the GraphQL types, through @pothos/plugin-validation)", () => {
  let server: TestServer;
  let gql: Gql;
  beforeAll(async () => {
    server = await startServer("pglite");
    gql = (await server.newEnvironment()).gql;
  });
  afterAll(() => server?.close());

  it("names the field a problem is in, and stores nothing", async () => {
    const r = await gql(`mutation { createSession(input: { type: "x", externalId: "named", tags: ["ok", " "] }) { isCached } }`);
    expect(r.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([["BAD_USER_INPUT", "input.tags.1: a tag must not be empty"]]);
    // A message that names its field already stands alone.
    const long = await gql(`mutation($e: String!) { createSession(input: { type: "x", externalId: $e }) { isCached } }`, { e: "e".repeat(limits.externalIdLength + 1) });
    expect(long.errors?.[0]?.message).toBe(`externalId is at most ${limits.externalIdLength} characters`);
    expect((await gql(`{ session(id: "named") { id } }`)).data).toEqual({ session: null });
  });

  it("hands resolvers the transformed input: durations in ms, tags without repeats, expiresIn null as the default", async () => {
    const created = await gql(`mutation { createSession(input: { type: "x", ttl: "1h", tags: ["a", "a", "b"] }) { session { tags expiresAt } } }`);
    const session = created.data!.createSession.session as { tags: string[]; expiresAt: string };
    expect(session.tags).toEqual(["a", "b"]);
    expect(Date.parse(session.expiresAt) - Date.now()).toBeGreaterThan(59 * 60_000);
    const token = await gql(`mutation { createPublicAccessToken(scopes: ["read:all"], expiresIn: null) { expiresAt } }`);
    const lifetime = Date.parse(token.data!.createPublicAccessToken.expiresAt as string) - Date.now();
    expect(lifetime).toBeGreaterThan(14 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(15 * 60_000);
  });
});

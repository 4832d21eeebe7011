import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../src/errors.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

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

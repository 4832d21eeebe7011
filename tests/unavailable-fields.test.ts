import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * Contract fields whose issue is still open answer a clear refusal naming that issue, never a
 * made-up result; each issue replaces its case here with real tests.
 */
describe("contract fields not yet available", () => {
  let server: TestServer;
  let gql: Gql;
  let id: string;

  beforeAll(async () => {
    server = await startServer("pglite");
    gql = (await server.newEnvironment()).gql;
    id = await createSessionId(gql);
  });
  afterAll(() => server?.close());

  it.each([
    ["trimSessionChannel", `mutation($id: ID!) { trimSessionChannel(id: $id, io: OUT, beforeSeqNum: 0) { headSeqNum } }`, 15],
    ["deleteSession", `mutation($id: ID!) { deleteSession(id: $id) { deleted } }`, 15],
    ["recordRetention", `mutation { createSession(input: { type: "t", recordRetention: "30d" }) { isCached } }`, 15],
    ["callbackUrl", `mutation($id: ID!) { createSessionWaitpoint(input: { session: $id, callbackUrl: "https://example.com/x" }) { isCached } }`, 16],
    ["webhookSigningSecret", `{ webhookSigningSecret }`, 16],
  ])("%s answers BAD_USER_INPUT naming its issue", async (_name, query, issue) => {
    const r = await gql(query, { id });
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    expect(r.errors![0]!.message).toContain(`issue #${issue}`);
  });

  it("reports headSeqNum 0 for an untrimmed channel, empty or not", async () => {
    await gql(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }, { data: 2 }]) { lastSeqNum } }`, { id });
    const r = await gql(`query($id: ID!) { session(id: $id) { out { headSeqNum tailSeqNum } in { headSeqNum tailSeqNum } } }`, { id });
    expect(r.data!.session).toEqual({ out: { headSeqNum: 0, tailSeqNum: 2 }, in: { headSeqNum: 0, tailSeqNum: 0 } });
  });
});

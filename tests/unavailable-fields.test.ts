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
  ])("%s answers BAD_USER_INPUT naming its issue", async (_name, query, issue) => {
    const r = await gql(query, { id });
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    expect(r.errors![0]!.message).toContain(`issue #${issue}`);
  });
});

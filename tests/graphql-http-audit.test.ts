import { serverAudits } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/test-server.js";

/** The GraphQL-over-HTTP spec audit from graphql-http, against the running server. */
describe("GraphQL over HTTP audit", () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startServer("pglite");
    key = (await server.newEnvironment()).secretKey;
  });
  afterAll(() => server?.close());

  it("passes every MUST", async () => {
    // Its requests introspect (`__type`), which needs a credential (OPERATING.md).
    const fetchFn = (input: RequestInfo | URL, init: RequestInit = {}) =>
      fetch(input, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${key}` } });
    const audits = serverAudits({ url: () => `${server.url}/graphql`, fetchFn });
    const failures: string[] = [];
    let musts = 0;
    for (const audit of audits) {
      if (!audit.name.startsWith("MUST")) continue;
      musts++;
      const result = await audit.fn();
      if (result.status !== "ok") failures.push(`${audit.name}: ${result.reason}`);
    }
    expect(musts).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });
});

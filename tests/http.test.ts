import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/test-server.js";

describe("HTTP surface", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("postgres");
  });
  afterAll(() => server?.close().catch(() => {}));

  it("serves GraphiQL to browsers on GET /graphql", async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/graphiql/i);
  });

  it("refuses oversized bodies and queries past the limits with a clear error", async () => {
    const { secretKey } = await server.newEnvironment();
    const huge = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secretKey}` },
      body: JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(5 * 1024 * 1024) } }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("PAYLOAD_TOO_LARGE");
    // A body of undeclared length (chunked) could grow past any limit: its length must be given.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${secretKey}` } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
      req.write(JSON.stringify({ query: "{ __typename }" }));
      req.end();
    });
    expect(chunked.status).toBe(411);
    expect(JSON.parse(chunked.body).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: sessionTags(first: 1)`).join(" ");
    const r = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secretKey}` },
      body: JSON.stringify({ query: `{ ${aliases} }` }),
    });
    const body = (await r.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] };
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions.code).toBe("BAD_USER_INPUT");
  });

  it("counts operations, appends and deliveries on /metrics, and tags every error with the request id", async () => {
    const { gql, secretKey } = await server.newEnvironment();
    await gql(`mutation { createSession(input: { type: "m", externalId: "metered" }) { isCached } }`);
    await gql(`mutation { appendToSession(id: "metered", io: IN, records: [{ data: 1 }, { data: 2 }]) { lastSeqNum } }`);
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secretKey}`, "x-request-id": "req-abc.1" },
      body: JSON.stringify({ query: `mutation { closeSession(id: "missing") { id } }` }),
    });
    expect(res.headers.get("x-request-id")).toBe("req-abc.1");
    expect((await res.json()).errors[0].extensions).toEqual({ code: "NOT_FOUND", requestId: "req-abc.1" });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^sessions_records_appended_total\{io="IN"\} [2-9]\d*$/m);
    expect(text).toMatch(/^sessions_graphql_errors_total\{code="NOT_FOUND"\} [1-9]\d*$/m);
    expect(text).toMatch(/^sessions_graphql_operations_total\{type="query_or_mutation"\} [1-9]\d*$/m);
    expect(text).toContain("sessions_subscriptions_open");
  });

  it("answers /healthz with 200 while ready and 503 once the database is gone; masks internal errors", async () => {
    const { gql } = await server.newEnvironment();
    expect((await gql(`{ sessions { totalCount } }`)).errors).toBeUndefined();
    const ok = await fetch(`${server.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ok" });
    await server.services.db.close();
    const down = await fetch(`${server.url}/healthz`);
    expect(down.status).toBe(503);
    // The key is still cached, so the request reaches a resolver whose database is gone.
    const failed = await gql(`{ sessions { totalCount } }`);
    expect(failed.errors).toEqual([expect.objectContaining({ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR", requestId: expect.any(String) } })]);
    expect(JSON.stringify(failed)).not.toMatch(/prisma|pool|SELECT|at \//i);
  });
});

import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * Event streams are held to the same limits whatever path they take: yoga also streams a
 * subscription on /graphql to a client that accepts text/event-stream, and that path must not be
 * a way around the connection caps and byte budgets of /graphql/stream (found by an attacker's review).
 */
describe("event streams on every path", () => {
  let server: TestServer;
  let gql: Gql;
  let secretKey: string;

  beforeAll(async () => {
    server = await startServer("pglite", { LIMIT_CONNECTIONS_PER_IP: "2" });
    ({ gql, secretKey } = await server.newEnvironment());
  });
  afterAll(() => server?.close());

  /** Opens an event stream and resolves with its status once the headers arrive; `close` ends it. */
  const open = (path: string, id: string) =>
    new Promise<{ status: number; close: () => void }>((resolve, reject) => {
      const query = `subscription { sessionRecords(id: "${id}", io: OUT, fromSeqNum: 0) { seqNum } }`;
      const req = request(`${server.url}${path}?query=${encodeURIComponent(query)}`, {
        headers: { accept: "text/event-stream", authorization: `Bearer ${secretKey}` },
      });
      req.on("response", (res) => resolve({ status: res.statusCode ?? 0, close: () => req.destroy() }));
      req.on("error", reject);
      req.end();
    });

  it("counts streams on /graphql against the per-address cap, like those on /graphql/stream", async () => {
    const id = await createSessionId(gql);
    const first = await open("/graphql/stream", id);
    const second = await open("/graphql", id);
    expect([first.status, second.status]).toEqual([200, 200]);
    // The cap (2) is reached by the two together: a third stream is refused on either path.
    expect((await open("/graphql", id)).status).toBe(429);
    expect((await open("/graphql/stream", id)).status).toBe(429);
    first.close();
    second.close();
  });

  it("serves graphql-sse only at its own path, not at any path ending with it", async () => {
    const id = await createSessionId(gql);
    const stray = await open("/x/graphql/stream", id);
    stray.close();
    expect(stray.status).not.toBe(200);
  });
});

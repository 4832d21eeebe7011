import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { AppendToSessionDocument, CreateSessionDocument } from "../client/generated/graphql.js";
import { SessionsClient, SessionsError } from "../client/src/sessions-client.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

describe("typed client", () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startServer("pglite");
    key = (await server.newEnvironment()).secretKey;
  });
  afterAll(() => server?.close());

  it.each(["sse", "ws"] as const)("resumes following after a disconnect from the last record it saw (%s)", async (transport) => {
    let tokenCalls = 0;
    const client = new SessionsClient({ url: server.url, token: () => (tokenCalls++, key), transport, webSocketImpl: WebSocket });
    const { createSession } = await client.request(CreateSessionDocument, { input: { type: "chat" } });
    const id = createSession.session.id;
    const append = (data: unknown) => client.request(AppendToSessionDocument, { id, io: "OUT", records: [{ data }] });
    await append(0);
    let reconnects = 0;
    const seen: number[] = [];
    const follow = (async () => {
      for await (const r of client.follow(id, "OUT", { fromSeqNum: 0, onReconnect: () => reconnects++ })) {
        seen.push(r.seqNum);
        if (seen.length === 6) return;
      }
    })();
    const until = (n: number) => vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(n), { timeout: 10_000, interval: 10 });
    // The server cuts every socket in one turn of its event loop (this process's too), so once the
    // client has seen its subscription cut and reconnects, its pooled HTTP sockets have seen their
    // end as well, and the next request opens a fresh one.
    const reconnected = (n: number) => vi.waitFor(() => expect(reconnects).toBeGreaterThanOrEqual(n), { timeout: 10_000, interval: 10 });
    await append(1);
    await until(2);
    server.dropConnections();
    await reconnected(1);
    await append(2);
    await append(3);
    await until(4);
    server.dropConnections();
    await reconnected(2);
    await append(4);
    await append(5);
    await follow;
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(reconnects).toBeGreaterThanOrEqual(2);
    expect(tokenCalls).toBeGreaterThan(1);
    await client.close();
  });

  it("raises contract errors with their code", async () => {
    const client = new SessionsClient({ url: server.url, token: "nope" });
    await expect(client.request(CreateSessionDocument, { input: { type: "chat" } })).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    await expect(client.request(CreateSessionDocument, { input: { type: "chat" } })).rejects.toBeInstanceOf(SessionsError);
  });
});

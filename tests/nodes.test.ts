import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SessionsClient } from "../client/src/index.js";
import { backendEnv, redisUrl } from "./helpers/backends.js";
import { startProcess } from "./helpers/process.js";
import { createSessionId, startServer, type TestServer } from "./helpers/test-server.js";

const APPEND = `mutation($id: ID!, $d: JSON!) { appendToSession(id: $id, io: OUT, records: [{ data: $d }]) { lastSeqNum } }`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Three nodes sharing PostgreSQL and Redis behind no balancer but the typed client's list of
 * URLs. The node the subscribers are on is killed (SIGKILL: no goodbye) mid-stream while appends
 * go on through another: each subscriber moves to a live node and ends with every record once,
 * in order.
 */
describe("three nodes, one killed mid-stream", () => {
  let a: TestServer;
  let b: ReturnType<typeof startProcess>;
  let c: ReturnType<typeof startProcess>;
  let urls: { b: string; c: string };

  beforeAll(async () => {
    const env: Record<string, string> = { ...(await backendEnv("postgres")), REDIS_URL: redisUrl() };
    a = await startServer(env);
    b = startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-b` });
    c = startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-c` });
    const [onB, onC] = await Promise.all([b.ready, c.ready]);
    urls = { b: onB.url, c: onC.url };
  }, 180_000);
  afterAll(async () => {
    await Promise.all([b?.stop("SIGKILL"), c?.stop()]);
    await a?.close();
  });

  it("every subscriber of the killed node resumes on another and gets every record once, in order", { timeout: 120_000 }, async () => {
    const { gql, secretKey } = await a.newEnvironment();
    const id = await createSessionId(gql);
    const TOTAL = 40;
    const KILL_AT = 15;
    const clients = range(10).map(
      (i) => new SessionsClient({ url: [urls.b, urls.c, a.url], token: secretKey, transport: i % 2 ? "ws" : "sse", webSocketImpl: WebSocket }),
    );
    const stop = new AbortController();
    const seen = clients.map(() => [] as number[]);
    const reconnects = clients.map(() => 0);
    let waiters: (() => boolean)[] = [];
    /** Resolves once every subscriber has `n` records. */
    const allHave = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => seen.every((s) => s.length >= n) && (resolve(), true);
        if (!check()) waiters.push(check);
      });
    const following = clients.map(async (client, i) => {
      for await (const record of client.follow(id, "OUT", { fromSeqNum: 0, signal: stop.signal, onReconnect: () => reconnects[i]!++ })) {
        seen[i]!.push(record.seqNum);
        waiters = waiters.filter((w) => !w());
        if (seen[i]!.length === TOTAL) return;
      }
    });
    for (const n of range(KILL_AT)) await gql(APPEND, { id, d: n });
    // Every subscriber is live on B (the first URL) with what was appended so far: then B dies.
    await allHave(KILL_AT);
    expect(clients.every((client) => client.url === urls.b)).toBe(true);
    await b.stop("SIGKILL");
    for (const n of range(TOTAL - KILL_AT)) await gql(APPEND, { id, d: KILL_AT + n });
    await allHave(TOTAL);
    stop.abort();
    await Promise.all(following);
    for (const s of seen) expect(s).toEqual(range(TOTAL));
    // Each lost its connection to B, and none stayed there.
    expect(reconnects.every((n) => n >= 1)).toBe(true);
    expect(clients.every((client) => client.url !== urls.b)).toBe(true);
    await Promise.all(clients.map((client) => client.close()));
  });
});

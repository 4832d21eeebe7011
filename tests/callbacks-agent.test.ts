import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "./helpers/backends.js";
import { watchOutput } from "./helpers/process.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

const APPEND = `mutation($id: ID!, $data: JSON!) { appendToSession(id: $id, io: IN, records: [{ data: $data }]) { lastSeqNum } }`;
const OUT = `query($id: ID!) { session(id: $id) { out { records { seqNum data } } } }`;

describe("examples/callback-agent.ts", () => {
  let server: TestServer;
  beforeAll(async () => {
    // The agent listens on 127.0.0.1: the one host this server's callbacks may reach over http.
    server = await startServer("pglite", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1" });
  });
  afterAll(() => server?.close());

  it("answers each message on `out` when called back, turn after turn, holding no connection", async () => {
    const { secretKey, gql } = await server.newEnvironment();
    const port = await freePort();
    const agent = spawn(process.execPath, ["--import", "tsx", "examples/callback-agent.ts", "callback-demo"], {
      env: { ...process.env, SESSIONS_URL: server.url, SESSIONS_TOKEN: secretKey, CALLBACK_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = watchOutput(agent.stdout, agent.stderr);
    try {
      await log.until("waiting for in#0", 60_000);
      // The agent waits through a waitpoint only: no subscription is open on this server.
      expect(await server.services.fanout.liveSubscribers({ sessionId: (await server.services.prisma.session.findFirstOrThrow({ where: { externalId: "callback-demo" } })).id, io: "IN" })).toBe(0);
      await gql(APPEND, { id: "callback-demo", data: { text: "hello" } });
      await log.until("waiting for in#1");
      await gql(APPEND, { id: "callback-demo", data: "and again" });
      await log.until("waiting for in#2");
      const out = await vi.waitFor(async () => {
        const records = (await gql(OUT, { id: "callback-demo" })).data!.session.out.records as { seqNum: number; data: unknown }[];
        expect(records).toHaveLength(2);
        return records;
      });
      expect(out.map((r) => r.data)).toEqual([
        { text: "You said: hello", inReplyTo: 0 },
        { text: "You said: and again", inReplyTo: 1 },
      ]);
      // A forged call is refused.
      const forged = await fetch(`http://127.0.0.1:${port}/callback`, {
        method: "POST",
        headers: { "content-type": "application/json", "webhook-id": "msg_x", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
        body: JSON.stringify({ type: "waitpoint.completed", data: {} }),
      });
      expect(forged.status).toBe(401);
    } finally {
      agent.kill();
    }
  }, 120_000);
});

import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { subscribe } from "./helpers/clients.js";
import { watchOutput } from "./helpers/process.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

describe("examples/worker.ts", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("pglite");
  });
  afterAll(() => server?.close());

  it("answers each message on `in` with a streamed reply on `out`, turn after turn", async () => {
    const { secretKey, gql } = await server.newEnvironment();
    const worker = spawn(process.execPath, ["--import", "tsx", "examples/worker.ts", "chat-worker"], {
      env: { ...process.env, SESSIONS_URL: server.url, SESSIONS_TOKEN: secretKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = watchOutput(worker.stdout, worker.stderr);
    try {
      await log.until("worker on");
      const sessionId = /worker on (\S+)/.exec(log.text())![1]!;
      const out = subscribe(server, "ws", secretKey, `subscription { sessionRecords(id: "chat-worker", io: OUT, fromSeqNum: 0) { seqNum data } }`, {});
      const say = (text: string) =>
        gql(`mutation($t: JSON!) { appendToSession(id: "chat-worker", io: IN, records: [{ data: $t }]) { lastSeqNum } }`, { t: { text } });
      // The worker's first waitpoint starts at the tail of `in` when it is made: say something
      // only once it exists, or the message would be before it and never wake the worker.
      await vi.waitFor(
        async () => expect(await server.services.prisma.waitpoint.count({ where: { sessionId, io: "IN", status: "PENDING" } })).toBe(1),
        { timeout: 20_000, interval: 20 },
      );
      await say("hi there");
      const first = await out.waitFor(5, 20_000);
      expect(first.map((r: any) => r.data.text ?? "|").join("")).toBe("You said: hi there|");
      await say("again");
      const both = await out.waitFor(9, 20_000);
      expect(both.slice(5).map((r: any) => r.data.text ?? "|").join("")).toBe("You said: again|");
      expect(both.map((r: any) => r.seqNum)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      out.stop();
    } finally {
      worker.kill();
    }
  }, 60_000);
});

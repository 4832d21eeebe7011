import { spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Chat } from "@ai-sdk/react";
import type { UIMessage } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionsChatTransport, textOf } from "../client/src/index.js";
import { watchOutput } from "./helpers/process.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

const lines = (messages: UIMessage[]) => messages.map((m) => `${m.role}: ${textOf(m)}`);

describe("examples/worker.ts", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("pglite");
    // Start-up alone can take a minute on a loaded machine.
  }, 180_000);
  afterAll(() => server?.close());

  const startWorker = (chatId: string, secretKey: string, env: Record<string, string> = {}) => {
    const worker = spawn(process.execPath, ["--import", "tsx", "examples/worker.ts", chatId], {
      env: { ...process.env, SESSIONS_URL: server.url, SESSIONS_TOKEN: secretKey, OPENAI_API_KEY: "", MOCK_DELAY_MS: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { worker, log: watchOutput(worker.stdout, worker.stderr) };
  };

  it("answers each message with the scripted model's streamed reply, turn after turn, one sent before it started included", async () => {
    const { secretKey } = await server.newEnvironment();
    const chat = new Chat<UIMessage>({ id: "chat-worker", transport: new SessionsChatTransport({ url: server.url, token: secretKey }) });
    // Sent while no agent runs: the worker finds it waiting.
    const first = chat.sendMessage({ text: "hi there" });
    const { worker, log } = startWorker("chat-worker", secretKey);
    try {
      await first;
      await chat.sendMessage({ text: "again" });
      expect(chat.error).toBeUndefined();
      const said = lines(chat.messages);
      expect(said).toHaveLength(4);
      expect(said[0]).toBe("user: hi there");
      expect(said[1]).toMatch(/^assistant: You said: hi there\. I am a scripted model/);
      expect(said[3]).toMatch(/^assistant: You said: again\./);
      await log.until("waiting for in#2");
      expect(log.text()).toContain("< hi there");
      expect(log.text()).toContain("> reply to in#1 finished");
    } finally {
      worker.kill();
    }
  }, 60_000);

  it("talks to an OpenAI-compatible server at OPENAI_BASE_URL when OPENAI_API_KEY is set", async () => {
    const requests: { path: string; auth: string | undefined; body: { model: string; stream: boolean; messages: { role: string; content: unknown }[] } }[] = [];
    const body = (req: IncomingMessage) => new Promise<string>((resolve) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d));
      req.on("end", () => resolve(text));
    });
    // Chat Completions with streaming, as OpenAI sends it: one delta per event, then [DONE].
    const fake = createServer(async (req, res) => {
      const request = JSON.parse(await body(req)) as (typeof requests)[number]["body"];
      requests.push({ path: req.url ?? "", auth: req.headers.authorization, body: request });
      const last = request.messages.at(-1)!;
      const said = typeof last.content === "string" ? last.content : JSON.stringify(last.content);
      res.writeHead(200, { "content-type": "text/event-stream" });
      const event = (delta: object, finish: string | null = null) =>
        res.write(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: request.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
      event({ role: "assistant", content: "pong" });
      event({ content: `: ${said}` });
      event({}, "stop");
      res.end("data: [DONE]\n\n");
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    const { secretKey } = await server.newEnvironment();
    const { worker } = startWorker("chat-openai", secretKey, {
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1`,
      OPENAI_MODEL: "fake-model",
    });
    try {
      const chat = new Chat<UIMessage>({ id: "chat-openai", transport: new SessionsChatTransport({ url: server.url, token: secretKey }) });
      await chat.sendMessage({ text: "ping" });
      expect(chat.error).toBeUndefined();
      expect(lines(chat.messages)).toEqual(["user: ping", "assistant: pong: ping"]);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ path: "/v1/chat/completions", auth: "Bearer sk-test", body: { model: "fake-model", stream: true } });
      expect(requests[0]!.body.messages.at(-1)).toMatchObject({ role: "user", content: "ping" });
    } finally {
      worker.kill();
      fake.close();
    }
  }, 60_000);
});

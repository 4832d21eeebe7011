import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendEnv } from "./helpers/backends.js";
import { gqlClient, startServer, type TestServer } from "./helpers/test-server.js";

const cli = (env: Record<string, string>, ...args: string[]) =>
  execFileSync("npx", ["tsx", "src/cli/main.ts", ...args], { env: { ...process.env, ...env }, encoding: "utf8" });

describe("sessions CLI", () => {
  let env: Record<string, string>;
  let server: TestServer;
  beforeAll(async () => {
    env = await backendEnv("postgres");
    server = await startServer(env);
  });
  afterAll(() => server?.close());

  it("creates an environment, printing exactly its secret key, which then works", async () => {
    const out = cli(env, "env", "create", "staging");
    expect(out).toMatch(/^sk_[a-z0-9]{40}\n$/);
    const r = await gqlClient(server.url, out.trim())(`mutation { createSession(input: { type: "chat" }) { isCached } }`);
    expect(r.data).toEqual({ createSession: { isCached: false } });
    const list = cli(env, "env", "list");
    expect(list).toMatch(/^staging\tenv_[a-z0-9]+\t\d{4}-/m);
    expect(list).not.toContain("sk_");
    expect(() => cli(env, "env", "create", "staging")).toThrow();
  });
});

describe("sessions tail", () => {
  it("prints a channel's records as JSON lines, live, and exits when the session closes", async () => {
    const { startServer } = await import("./helpers/test-server.js");
    const { spawn } = await import("node:child_process");
    const server = await startServer("pglite");
    try {
      const { secretKey, gql } = await server.newEnvironment();
      await gql(`mutation { createSession(input: { type: "chat", externalId: "tailed" }) { isCached } }`);
      await gql(`mutation { appendToSession(id: "tailed", io: OUT, records: [{ data: "first" }, { data: "second" }]) { lastSeqNum } }`);
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "tail", "tailed", "--from", "1"], {
        env: { ...process.env, SESSIONS_URL: server.url, SESSIONS_TOKEN: secretKey },
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      const deadline = Date.now() + 20_000;
      while (!out.includes("second") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await gql(`mutation { appendToSession(id: "tailed", io: OUT, records: [{ data: { live: true } }]) { lastSeqNum } }`);
      while (!out.includes("live") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await gql(`mutation { closeSession(id: "tailed") { id } }`);
      expect(await exited).toBe(0);
      expect(out.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.seqNum, r.data])).toEqual([[1, "second"], [2, { live: true }]]);
    } finally {
      await server.close();
    }
  }, 60_000);
});

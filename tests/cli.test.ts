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

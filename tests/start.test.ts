import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/backends.js";
import { startProcess as start } from "./helpers/process.js";
import { gqlClient } from "./helpers/test-server.js";

describe("npm start", () => {
  it("generates the default key once, prints the listening line, and keeps the key across restarts", async () => {
    const dataDir = tempDir();
    const first = start({ DATA_DIR: dataDir });
    const { url, stdout } = await first.ready;
    const key = /secret key of the default environment.*: (sk_\S+)/.exec(stdout)?.[1];
    expect(key).toBeDefined();
    expect((await gqlClient(url, key)(`{ sessions { totalCount } }`)).data).toEqual({ sessions: { totalCount: 0 } });
    expect(await first.stop()).toBe(0);

    const second = start({ DATA_DIR: dataDir });
    const again = await second.ready;
    expect(again.stdout).not.toContain("sk_");
    expect((await gqlClient(again.url, key)(`{ sessions { totalCount } }`)).data).toEqual({ sessions: { totalCount: 0 } });
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it("takes SESSIONS_SECRET_KEY as the default environment's key", async () => {
    const key = `sk_${"k".repeat(40)}`;
    const run = start({ DATA_DIR: tempDir(), SESSIONS_SECRET_KEY: key });
    const { url, stdout } = await run.ready;
    expect(stdout).not.toContain("secret key of the default environment");
    expect((await gqlClient(url, key)(`{ sessions { totalCount } }`)).errors).toBeUndefined();
    await run.stop();
  }, 60_000);

  it("refuses a bad variable with one line naming it", async () => {
    const run = start({ DATA_DIR: tempDir(), PORT: "not-a-port" });
    await expect(run.ready).rejects.toThrow(/invalid configuration: PORT/);
  }, 60_000);
});

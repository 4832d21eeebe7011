import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "../tests/helpers/backends.js";

const script = fileURLToPath(new URL("../../shared/peers/durable-streams-caddy.sh", import.meta.url));
const binary = fileURLToPath(new URL("./tmp/ds-caddy/durable-streams-caddy", import.meta.url));

/** The production Durable Streams server (Caddy plugin, Go), started on loopback: the strongest delivery peer. */
export interface CaddyPeer {
  /** The stream base URL, e.g. http://127.0.0.1:PORT/v1/stream. */
  url: string;
  stop(): void;
}

/**
 * Starts the peer with ../shared/peers/durable-streams-caddy.sh: the binary built before
 * (bench/tmp/ds-caddy), else a build from DS_MIRROR (a git clone of durable-streams). Resolves to
 * why it cannot run when neither is there or the start fails, so the bench says so and goes on.
 */
export async function startCaddyPeer(): Promise<CaddyPeer | { unavailable: string }> {
  if (!existsSync(script)) return { unavailable: `${script} is missing` };
  const built = existsSync(binary);
  if (!built && !process.env.DS_MIRROR) return { unavailable: "not built yet (bench/tmp/ds-caddy) and DS_MIRROR is not set" };
  const port = await freePort();
  try {
    const { stdout } = await promisify(execFile)("bash", [script, String(port), "file"], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      // The script asks for DS_MIRROR even when it only starts the binary built before.
      env: { ...process.env, ...(built && { NO_BUILD: "1", DS_MIRROR: process.env.DS_MIRROR ?? "(not needed: built)" }) },
      timeout: 15 * 60_000,
    });
    const [url, pidLine] = stdout.trim().split("\n");
    const pid = Number(/^pid (\d+)/.exec(pidLine ?? "")?.[1]);
    if (!url?.startsWith("http://127.0.0.1:") || !pid) return { unavailable: `unexpected output: ${stdout.slice(0, 200)}` };
    return { url, stop: () => process.kill(pid, "SIGTERM") };
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    return { unavailable: `the script failed: ${(stderr || (error as Error).message).trim().split("\n").at(-1)}` };
  }
}

import { startServer } from "../tests/helpers/test-server.js";
import { runClient } from "./load-process.js";
import { progress, type Summary } from "./stats.js";

/** Reconnect → first missed record delivered, after `missed` records landed while away. */
export async function resumeCost(opts: { rounds: number; missed: number }) {
  const server = await startServer("postgres");
  try {
    const { secretKey } = await server.newEnvironment();
    progress(`resume: ${opts.rounds} reconnects, ${opts.missed} records missed each time`);
    return await runClient<Summary>("resume", { url: server.url, key: secretKey, ...opts });
  } finally {
    await server.close();
  }
}

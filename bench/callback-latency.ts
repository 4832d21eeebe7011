import { startServer } from "../tests/helpers/test-server.js";
import { runClient } from "./load-process.js";
import { progress, type Summary } from "./stats.js";

/**
 * Completion → callback: a waitpoint with a callbackUrl completed by an append, until its signed
 * POST reaches a receiver (bench/clients/callback-latency.ts). PostgreSQL, one node; the receiver
 * on 127.0.0.1, allowed by CALLBACK_ALLOWED_HOSTS.
 */
export async function callbackLatency(opts: { rounds: number }) {
  const server = await startServer("postgres", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1" });
  try {
    const { secretKey } = await server.newEnvironment();
    progress(`callbacks: ${opts.rounds} waitpoints completed, each until its callback arrives`);
    return await runClient<{ fromAppend: Summary; fromCompletion: Summary }>("callback-latency", { url: server.url, key: secretKey, warmup: 20, ...opts });
  } finally {
    await server.close();
  }
}

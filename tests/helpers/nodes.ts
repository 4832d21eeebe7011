import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { backendEnv, redisUrl } from "./backends.js";
import { startProcess } from "./process.js";
import { startServer, type TestServer } from "./test-server.js";

/** A node that runs in a process of its own: its addresses, as `startProcess` reports them. */
export interface PeerNode {
  url: string;
  wsUrl: string;
}

/** Two nodes of one deployment, filled in before a describe block's tests run. */
export interface TwoNodes {
  /** The first node, in this process: its services are the test's to inspect. */
  a: TestServer;
  /** The second node, a process of its own sharing nothing with the first but PostgreSQL and Redis. */
  b: PeerNode;
  /** The environment both nodes were started with (DATABASE_URL, REDIS_URL, …). */
  env: Record<string, string>;
}

/**
 * Starts two nodes on one PostgreSQL database and one Redis for the describe block it is called
 * in, and stops them after its tests. Both share a master key, so each opens the environments'
 * signing keys the other made. `extra` is added to both nodes' environment.
 */
export function twoNodes(extra: Record<string, string> = {}): TwoNodes {
  const nodes = {} as TwoNodes;
  let other: ReturnType<typeof startProcess> | undefined;
  beforeAll(async () => {
    nodes.env = { ...(await backendEnv("postgres")), REDIS_URL: redisUrl(), SESSIONS_MASTER_KEY: randomBytes(32).toString("base64"), ...extra };
    nodes.a = await startServer(nodes.env);
    other = startProcess({ ...nodes.env, DATA_DIR: `${nodes.env.DATA_DIR}-b`, SESSIONS_SECRET_KEY: `sk_${"b".repeat(40)}` });
    nodes.b = await other.ready;
  }, 120_000);
  afterAll(async () => {
    await nodes.a?.close();
    await other?.stop();
  });
  return nodes;
}

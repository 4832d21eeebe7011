import { randomBytes } from "node:crypto";
import { backendEnv, redisUrl } from "../tests/helpers/backends.js";
import { startProcess } from "../tests/helpers/process.js";
import { runClient } from "./load-process.js";
import { progress, type Summary } from "./stats.js";

interface NodesResult {
  sameNode: Summary;
  otherNode: Summary;
  reconnect: Summary;
  /** Kill → each moved subscriber's client noticing its node was gone. */
  noticed: Summary;
  moved: number;
  gaps: number;
  duplicates: number;
}

/**
 * Three server processes sharing PostgreSQL and Redis, `subscribers` spread over them, appends
 * through the first: append → delivery to subscribers on that node and on the others; then the
 * second node is killed (SIGKILL) mid-stream and its subscribers (the typed client, given all three
 * URLs) move to the others and resume. Gaps and duplicates are counted over every subscriber.
 */
export async function threeNodes(opts: { subscribers: number; appends: number; gapMs: number }) {
  const env: Record<string, string> = {
    ...(await backendEnv("postgres")),
    REDIS_URL: redisUrl(),
    SESSIONS_MASTER_KEY: randomBytes(32).toString("base64"),
    SESSIONS_SECRET_KEY: `sk_${"n".repeat(40)}`,
    LOG_LEVEL: "warn",
  };
  // The first node makes the default environment; the others then find it.
  const first = startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-a` });
  const nodes = [first];
  try {
    const a = await first.ready;
    nodes.push(startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-b` }), startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-c` }));
    const [b, c] = await Promise.all([nodes[1]!.ready, nodes[2]!.ready]);
    progress(`nodes: ${opts.subscribers} subscribers over 3 nodes, ${opts.appends} appends, then one node killed and ${opts.appends} more`);
    const result = await runClient<NodesResult>("nodes", {
      urls: [a.url, b.url, c.url],
      key: env.SESSIONS_SECRET_KEY,
      victimPid: nodes[1]!.child.pid,
      ...opts,
    });
    return { goal: "gaps 0, duplicates 0", ...result };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

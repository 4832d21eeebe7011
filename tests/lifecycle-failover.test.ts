import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createEnvironment } from "../src/auth/environments.js";
import { openDatabase } from "../src/db/open.js";
import { backendEnv, redisUrl } from "./helpers/backends.js";
import { startProcess, watchOutput } from "./helpers/process.js";
import { gqlClient, type Gql } from "./helpers/test-server.js";

/**
 * The retention sweeper across two server processes sharing PostgreSQL and Redis (issue #15): one
 * node sweeps at a time (the Redis lease), and when that node dies the other takes over, so
 * sessions past SESSION_RETENTION still go. Each node logs the sessions it deletes, which is how
 * the test tells who swept.
 */
describe("the retention sweeper under leader failover (two processes, PostgreSQL + Redis)", () => {
  const nodes: { name: string; process: ReturnType<typeof startProcess>; output: ReturnType<typeof watchOutput>; url: string }[] = [];
  let admin: (url: string) => Gql;

  beforeAll(async () => {
    const env: Record<string, string> = {
      ...(await backendEnv("postgres")),
      REDIS_URL: redisUrl(),
      SESSIONS_MASTER_KEY: randomBytes(32).toString("base64"),
      RETENTION_SWEEP_INTERVAL: "1s",
      SESSION_RETENTION: "1s",
      LOG_LEVEL: "info",
    };
    // The environment is made straight in the database: neither node is more of a leader than the other.
    const db = await openDatabase({ DATABASE_URL: env.DATABASE_URL, DATA_DIR: env.DATA_DIR! });
    const { secretKey } = await createEnvironment(db.prisma, `failover-${process.pid}`);
    await db.close();
    admin = (url) => gqlClient(url, secretKey);
    for (const name of ["a", "b"]) {
      const child = startProcess({ ...env, DATA_DIR: `${env.DATA_DIR}-${name}`, SESSIONS_SECRET_KEY: `sk_${name.repeat(40)}` });
      const output = watchOutput(child.child.stdout!, child.child.stderr!);
      nodes.push({ name, process: child, output, url: (await child.ready).url });
    }
  }, 120_000);
  afterAll(async () => {
    for (const node of nodes) await node.process.stop();
  });

  /** A session closed now, through `url`; retention deletes it a second later. */
  async function closedSession(url: string) {
    const gql = admin(url);
    const id = (await gql(`mutation { createSession(input: { type: "failover" }) { session { id } } }`)).data!.createSession.session.id as string;
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    return id;
  }
  /** The line a node logs for each session retention deletes (pino: its fields in order, then the message). */
  const deletion = (id: string) => `"sessionId":"${id}","cause":"retention","msg":"session deleted"`;
  const deletedBy = (id: string) => nodes.filter((n) => n.output.text().includes(deletion(id))).map((n) => n.name);

  it("deletes past-retention sessions on exactly one node, and on the other once that one is killed", async () => {
    const first = await closedSession(nodes[0]!.url);
    await vi.waitFor(() => expect(deletedBy(first)).toHaveLength(1), { timeout: 60_000, interval: 100 });
    expect((await admin(nodes[1]!.url)(`query($id: ID!) { session(id: $id) { id } }`, { id: first })).data!.session).toBeNull();
    const leader = nodes.find((n) => n.name === deletedBy(first)[0])!;
    const survivor = nodes.find((n) => n !== leader)!;

    // The node that swept dies without a word (no release of its lease): the other takes over once the lease lapses.
    expect(await leader.process.stop("SIGKILL")).toBeNull();
    const second = await closedSession(survivor.url);
    await survivor.output.until(deletion(second), 60_000);
    expect(deletedBy(second)).toEqual([survivor.name]);
    expect((await admin(survivor.url)(`query($id: ID!) { session(id: $id) { id } }`, { id: second })).data!.session).toBeNull();
    // Both deletions are counted once, each where it happened.
    expect(deletedBy(first)).toEqual([leader.name]);
  }, 180_000);
});

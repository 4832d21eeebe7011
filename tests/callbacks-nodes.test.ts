import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv } from "./helpers/backends.js";
import { startReceiver, type Answer, type Receiver } from "./helpers/callback-receiver.js";
import { twoNodes } from "./helpers/nodes.js";
import { startProcess } from "./helpers/process.js";
import { createSessionId, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

// Callbacks across processes: a node killed mid-delivery, two nodes sharing the work, and the
// secret rotated by the CLI. Every callback goes to a receiver on 127.0.0.1.

const CREATE = `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { waitpoint { id } } }`;
const GET = `query($id: ID!) { waitpoint(id: $id) { status callback { status attempts lastError deliveredAt } } }`;
const APPEND = `mutation($id: ID!, $data: JSON!) { appendToSession(id: $id, io: IN, records: [{ data: $data }]) { lastSeqNum } }`;
const SECRET = `{ webhookSigningSecret }`;
const CALLBACKS = { CALLBACK_ALLOWED_HOSTS: "127.0.0.1", CALLBACK_RETRY_FIRST: "20ms", CALLBACK_RETRY_MAX: "100ms" };

const createWaitpoint = async (gql: Gql, session: string, callbackUrl: string) => {
  const r = await gql(CREATE, { input: { session, callbackUrl } });
  expect(r.errors).toBeUndefined();
  return r.data!.createSessionWaitpoint.waitpoint.id as string;
};
const untilDelivered = (gql: Gql, id: string, timeout = 60_000) =>
  vi.waitFor(
    async () => {
      const w = (await gql(GET, { id })).data!.waitpoint;
      if (w.callback.status !== "DELIVERED") throw new Error(`callback is ${JSON.stringify(w.callback)}`);
      return w.callback as { attempts: number; lastError: string | null };
    },
    { timeout, interval: 50 },
  );

/** The callback rows as PostgreSQL holds them. */
async function callbackRows(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<{ id: string; waitpoint_id: string; status: string; attempts: number; next_attempt_at: Date | null }>(
      `SELECT id, waitpoint_id, status, attempts, next_attempt_at FROM waitpoint_callbacks`,
    )).rows;
  } finally {
    await client.end();
  }
}

describe("a node killed (SIGKILL) after completion, before delivery", () => {
  let receiver: Receiver;
  let killed = false;
  afterAll(() => receiver?.close());

  it("delivers once after a restart, under the same webhook-id", async () => {
    // Every request hangs while the first node lives: it can never deliver.
    const answers: Answer[] = [];
    receiver = await startReceiver(() => answers[answers.push(killed ? 200 : "hang") - 1]!);
    const env: Record<string, string> = {
      ...(await backendEnv("postgres")),
      ...CALLBACKS,
      // The claim of a node that dies lasts CALLBACK_TIMEOUT + 5 s; then any node takes it over.
      CALLBACK_TIMEOUT: "1s",
      SESSIONS_SECRET_KEY: `sk_${"c".repeat(40)}`,
      SESSIONS_MASTER_KEY: randomBytes(32).toString("base64"),
    };
    const first = startProcess(env);
    const { url } = await first.ready;
    const gql = gqlClient(url, env.SESSIONS_SECRET_KEY);
    const secret = (await gql(SECRET)).data!.webhookSigningSecret as string;
    const session = await createSessionId(gql);
    const id = await createWaitpoint(gql, session, receiver.url());
    await gql(APPEND, { id: session, data: "wake up" });
    // The attempt is in flight (the receiver holds it): the waitpoint completed, nothing delivered.
    await receiver.until(1);
    first.child.kill("SIGKILL");
    await first.stop();
    killed = true;
    const [row] = await callbackRows(env.DATABASE_URL!);
    expect(row).toMatchObject({ waitpoint_id: id, status: "PENDING" });
    expect(row!.next_attempt_at).not.toBeNull();

    const second = startProcess(env);
    try {
      const restarted = gqlClient((await second.ready).url, env.SESSIONS_SECRET_KEY);
      const callback = await untilDelivered(restarted, id);
      // Delivered once: one request was answered (2xx), the ones before it hung until the kill.
      expect(answers.filter((a) => a === 200)).toHaveLength(1);
      expect(answers.at(-1)).toBe(200);
      // One event, one id, whichever node and attempt carried it; each attempt signed.
      expect(new Set(receiver.deliveries.map((d) => d.headers["webhook-id"]))).toEqual(new Set([row!.id]));
      for (const d of receiver.deliveries) expect(new Webhook(secret).verify(d.body, d.webhookHeaders)).toMatchObject({ type: "waitpoint.completed" });
      expect(callback.attempts).toBe(receiver.deliveries.length);
      // Delivered: nothing is due any more, so no further request can come.
      const [after] = await callbackRows(env.DATABASE_URL!);
      expect(after).toMatchObject({ status: "DELIVERED", next_attempt_at: null });
    } finally {
      await second.stop();
    }
  }, 180_000);
});

describe("two nodes (PostgreSQL + Redis)", () => {
  const nodes = twoNodes(CALLBACKS);
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
  });
  afterAll(() => receiver?.close());

  it("deliver each callback once, whichever node completed the waitpoint", async () => {
    const { gql, secretKey } = await nodes.a.newEnvironment();
    const onB = gqlClient(nodes.b.url, secretKey);
    const secret = (await gql(SECRET)).data!.webhookSigningSecret as string;
    expect((await onB(SECRET)).data!.webhookSigningSecret).toBe(secret);
    const n = 20;
    const waitpoints = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const session = await createSessionId(gql);
        return { session, id: await createWaitpoint(i % 2 ? onB : gql, session, receiver.url(`/hook/${i}`)), via: i % 2 ? onB : gql };
      }),
    );
    // Appends on both nodes: each completion wakes both deliverers (the signal goes through Redis).
    await Promise.all(waitpoints.map((w, i) => w.via(APPEND, { id: w.session, data: i })));
    for (const w of waitpoints) expect((await untilDelivered(gql, w.id)).attempts).toBe(1);
    const rows = await callbackRows(nodes.env.DATABASE_URL!);
    expect(rows).toHaveLength(n);
    for (const row of rows) {
      const got = receiver.withId(row.id);
      expect(got).toHaveLength(1);
      expect(new Webhook(secret).verify(got[0]!.body, got[0]!.webhookHeaders)).toMatchObject({ data: { id: row.waitpoint_id } });
    }
  }, 120_000);
});

describe("sessions env rotate-webhook-secret", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let receiver: Receiver;

  beforeAll(async () => {
    env = { ...(await backendEnv("postgres")), ...CALLBACKS };
    server = await startServer(env);
    receiver = await startReceiver(() => 200);
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("prints the new secret; callbacks carry both signatures for 24 h, then the new one only", async () => {
    const { id: environmentId, gql } = await server.newEnvironment();
    const old = (await gql(SECRET)).data!.webhookSigningSecret as string;
    const { slug } = await server.services.prisma.environment.findUniqueOrThrow({ where: { id: environmentId } });
    // Not spawnSync: this process is the server, and must go on answering meanwhile.
    const run = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "env", "rotate-webhook-secret", slug], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    expect(run.stdout).toMatch(/^whsec_[A-Za-z0-9+/]{43}=\n$/);
    const fresh = run.stdout.trim();
    expect(fresh).not.toBe(old);
    // The audit line names the event, never the secret.
    expect(run.stderr).toContain("webhook-secret.rotated");
    expect(run.stderr).not.toContain(fresh);
    expect((await gql(SECRET)).data!.webhookSigningSecret).toBe(fresh);

    const session = await createSessionId(gql);
    const id = await createWaitpoint(gql, session, receiver.url());
    await gql(APPEND, { id: session, data: "after rotation" });
    await untilDelivered(gql, id);
    const [delivery] = receiver.deliveries.filter((d) => d.body.includes(id));
    expect(delivery!.webhookHeaders["webhook-signature"]!.split(" ")).toHaveLength(2);
    // A receiver that knows either secret accepts it.
    for (const secret of [old, fresh]) expect(new Webhook(secret).verify(delivery!.body, delivery!.webhookHeaders)).toMatchObject({ data: { id } });
    expect(() => new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(delivery!.body, delivery!.webhookHeaders)).toThrow();
    // After the grace, only the new one signs.
    const later = new Date(Date.now() + 24 * 3_600_000 + 60_000);
    expect(await server.services.callbacks.secrets.signing(environmentId, later)).toEqual([fresh]);
    expect(await server.services.callbacks.secrets.signing(environmentId)).toEqual([fresh, old]);
  }, 120_000);
});

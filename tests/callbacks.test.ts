import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv, freePort } from "./helpers/backends.js";
import { startReceiver, type Receiver } from "./helpers/callback-receiver.js";
import { subscribe } from "./helpers/clients.js";
import { codes, createSessionId, type Gql, type TestServer, startServer } from "./helpers/test-server.js";

// Every callback in this file goes to a receiver on 127.0.0.1; refusals of other addresses are
// checked without connecting anywhere (literal addresses, or names resolved by a stand-in resolver).

const CALLBACK = "callback { url status attempts lastAttemptAt deliveredAt lastError }";
const WAITPOINT = `id status record { seqNum data } ${CALLBACK}`;
const CREATE = `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { isCached waitpoint { ${WAITPOINT} } } }`;
const GET = `query($id: ID!) { waitpoint(id: $id) { ${WAITPOINT} } }`;
const APPEND = `mutation($id: ID!, $data: JSON!) { appendToSession(id: $id, io: IN, records: [{ data: $data }]) { lastSeqNum } }`;
const SECRET = `{ webhookSigningSecret }`;

/** Fast retries, so a test sees several attempts in milliseconds; 127.0.0.1 is the one host allowed. */
const FAST = { CALLBACK_ALLOWED_HOSTS: "127.0.0.1", CALLBACK_RETRY_FIRST: "20ms", CALLBACK_RETRY_MAX: "100ms", CALLBACK_TIMEOUT: "2s" };

interface Callback {
  url: string;
  status: string;
  attempts: number;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  lastError: string | null;
}

function harness(getGql: () => Gql) {
  const gql = () => getGql();
  const create = async (input: Record<string, unknown>) => {
    const r = await gql()(CREATE, { input });
    expect(r.errors).toBeUndefined();
    return r.data!.createSessionWaitpoint.waitpoint as { id: string; status: string; callback: Callback | null };
  };
  const get = async (id: string) => (await gql()(GET, { id })).data!.waitpoint as { id: string; status: string; callback: Callback };
  const untilCallback = (id: string, check: (c: Callback) => boolean, timeout = 20_000) =>
    vi.waitFor(
      async () => {
        const { callback } = await get(id);
        if (!check(callback)) throw new Error(`callback is ${JSON.stringify(callback)}`);
        return callback;
      },
      { timeout, interval: 20 },
    );
  const append = async (session: string, data: unknown) => expect((await gql()(APPEND, { id: session, data })).errors).toBeUndefined();
  return { create, get, untilCallback, append };
}

describe("waitpoint callbacks (PGlite, one node)", () => {
  let server: TestServer;
  let gql: Gql;
  let secretKey: string;
  let receiver: Receiver;
  let secret: string;
  const h = harness(() => gql);
  /** What the receiver answers next, per webhook-id: the test sets it before the event happens. */
  const script = new Map<string, Array<number | "hang">>();

  beforeAll(async () => {
    server = await startServer("pglite", FAST);
    ({ gql, secretKey } = await server.newEnvironment());
    receiver = await startReceiver((_i, d) => {
      const answers = script.get(String(d.headers["webhook-id"]));
      return answers?.shift() ?? 200;
    });
    secret = (await gql(SECRET)).data!.webhookSigningSecret;
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("gives each environment one whsec_ secret, to secret keys only", async () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect((await gql(SECRET)).data!.webhookSigningSecret).toBe(secret);
    const other = await server.newEnvironment();
    const otherSecret = (await other.gql(SECRET)).data!.webhookSigningSecret;
    expect(otherSecret).toMatch(/^whsec_/);
    expect(otherSecret).not.toBe(secret);
    const token = (await gql(`mutation { createPublicAccessToken(scopes: ["admin"]) { token } }`)).data!.createPublicAccessToken.token;
    const asToken = await import("./helpers/test-server.js").then((m) => m.gqlClient(server.url, token));
    expect(codes(await asToken(SECRET))).toEqual(["FORBIDDEN"]);
    // Sealed at rest: the database never holds the secret in the clear.
    const rows = await server.services.prisma.webhookSecret.findMany();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows) expect(row.sealedSecret).not.toContain(secret.slice(6, 20));
  });

  it("POSTs a signed waitpoint.completed once the waitpoint completes, and reports the delivery", async () => {
    const session = await createSessionId(gql);
    const url = receiver.url(`/hook/${session}`);
    const waitpoint = await h.create({ session, callbackUrl: url, tags: ["turn"] });
    expect(waitpoint.callback).toEqual({ url, status: "PENDING", attempts: 0, lastAttemptAt: null, deliveredAt: null, lastError: null });
    const changes = subscribe(server, "ws", secretKey, `subscription($id: ID!) { waitpointChanged(id: $id) { status ${CALLBACK} } }`, { id: waitpoint.id });
    await changes.waitFor(1);
    const before = receiver.deliveries.length;
    await h.append(session, { text: "hello" });

    const callback = await h.untilCallback(waitpoint.id, (c) => c.status === "DELIVERED");
    expect(callback).toMatchObject({ url, status: "DELIVERED", attempts: 1, lastError: null });
    expect(Date.parse(callback.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse(callback.lastAttemptAt!));
    const [delivery, ...more] = receiver.deliveries.slice(before);
    expect(more).toEqual([]);
    expect(delivery!.headers["content-type"]).toBe("application/json");
    expect(delivery!.headers["webhook-id"]).toMatch(/^msg_[a-z0-9]{24}$/);
    expect(Math.abs(Number(delivery!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    // The standardwebhooks package verifies it (signature, id, fresh timestamp), with the environment's secret only.
    const body = new Webhook(secret).verify(delivery!.body, delivery!.webhookHeaders) as Record<string, any>;
    const foreign = (await (await server.newEnvironment()).gql(SECRET)).data!.webhookSigningSecret;
    expect(() => new Webhook(foreign).verify(delivery!.body, delivery!.webhookHeaders)).toThrow(/signature/i);
    expect(body).toMatchObject({
      type: "waitpoint.completed",
      data: { id: waitpoint.id, sessionId: session, io: "IN", afterSeqNum: 0, status: "COMPLETED", tags: ["turn"], record: { seqNum: 0, data: { text: "hello" } } },
    });
    expect(Date.parse(body.timestamp)).toBe(Date.parse(body.data.completedAt));

    // waitpointChanged: pending, completed (with the callback pending, unless the delivery won the
    // race to the subscription's read), delivered; then it completes.
    await changes.done;
    expect(changes.errors).toEqual([]);
    const seen = changes.items.map((w: { status: string; callback: Callback }) => `${w.status}/${w.callback.status}`);
    expect([
      ["PENDING/PENDING", "COMPLETED/PENDING", "COMPLETED/DELIVERED"],
      ["PENDING/PENDING", "COMPLETED/DELIVERED"],
    ]).toContainEqual(seen);
  });

  it("announces a timeout with waitpoint.timed_out", async () => {
    const session = await createSessionId(gql);
    const waitpoint = await h.create({ session, timeout: "300ms", callbackUrl: receiver.url("/timeout") });
    const callback = await h.untilCallback(waitpoint.id, (c) => c.status === "DELIVERED");
    expect(callback.attempts).toBe(1);
    const delivery = receiver.deliveries.find((d) => d.body.includes(waitpoint.id))!;
    const body = new Webhook(secret).verify(delivery.body, delivery.webhookHeaders) as Record<string, any>;
    expect(body).toMatchObject({ type: "waitpoint.timed_out", data: { id: waitpoint.id, status: "TIMED_OUT", record: null, completedAt: null } });
    expect(body.timestamp).toBe(body.data.timeoutAt);
  });

  it("retries through 503s and a closed port with one webhook-id, each attempt signed", async () => {
    // The receiver for this test lives on its own port, closed for a while in the middle.
    const port = await freePort();
    let own = await startReceiver((i) => (i < 2 ? 503 : 200), port);
    const session = await createSessionId(gql);
    const waitpoint = await h.create({ session, callbackUrl: own.url() });
    await h.append(session, "go");
    // Two 503s, then the port closes: attempts fail with "connection refused".
    await own.until(2);
    await h.untilCallback(waitpoint.id, (c) => c.lastError === "HTTP 503");
    await own.close();
    const refused = await h.untilCallback(waitpoint.id, (c) => c.lastError === "connection refused");
    expect(refused.status).toBe("PENDING");
    const earlier = own.deliveries;
    own = await startReceiver(() => 200, port);
    try {
      const delivered = await h.untilCallback(waitpoint.id, (c) => c.status === "DELIVERED");
      expect(delivered.attempts).toBeGreaterThanOrEqual(4);
      expect(delivered.lastError).toBe("connection refused");
      const all = [...earlier, ...own.deliveries];
      expect(all).toHaveLength(3);
      expect(new Set(all.map((d) => d.headers["webhook-id"])).size).toBe(1);
      const bodies = all.map((d) => new Webhook(secret).verify(d.body, d.webhookHeaders));
      expect(bodies[2]).toEqual(bodies[0]);
      expect(all.map((d) => d.body)).toEqual([all[0]!.body, all[0]!.body, all[0]!.body]);
    } finally {
      await own.close();
    }
  });

  it("abandons an attempt that gets no answer within CALLBACK_TIMEOUT, and tries again", async () => {
    const session = await createSessionId(gql);
    const waitpoint = await h.create({ session, callbackUrl: receiver.url("/slow") });
    const id = (await server.services.prisma.waitpointCallback.findUniqueOrThrow({ where: { waitpointId: waitpoint.id } })).id;
    script.set(id, ["hang"]);
    await h.append(session, "slow");
    const callback = await h.untilCallback(waitpoint.id, (c) => c.status === "DELIVERED");
    expect(callback).toMatchObject({ attempts: 2, lastError: "timed out after 2s" });
    expect(receiver.withId(id)).toHaveLength(2);
  });

  it("refuses callback URLs outside the policy at creation, without connecting anywhere", async () => {
    const session = await createSessionId(gql);
    const refused = [
      ["http://example.com/hook", /must be https/],
      // 127.0.0.1 is allowed here (CALLBACK_ALLOWED_HOSTS); the rest of 127/8 is not.
      ["https://127.0.0.2/hook", /loopback/],
      ["https://10.1.2.3/hook", /private/],
      ["https://172.16.0.1/hook", /private/],
      ["https://192.168.1.1/hook", /private/],
      ["https://169.254.169.254/latest/meta-data", /link-local/],
      ["https://100.100.100.200/", /shared/],
      ["https://0.0.0.0/", /this network/],
      ["https://[::1]/hook", /loopback/],
      ["https://[fd00:ec2::254]/hook", /private/],
      ["https://[fe80::1]/hook", /link-local/],
      ["https://[::ffff:127.0.0.1]/hook", /loopback/],
      ["https://[::ffff:a9fe:a9fe]/hook", /link-local/],
      // Resolved through /etc/hosts, never connected to.
      ["https://localhost/hook", /localhost resolves to .*loopback/],
      ["https://user:secret@example.com/hook", /user name or password/],
      ["ftp://example.com/file", /https/],
      ["not a url", /not a URL/],
      [`https://example.com/${"x".repeat(2048)}`, /at most 2048/],
    ] as const;
    for (const [callbackUrl, message] of refused) {
      const r = await gql(CREATE, { input: { session, callbackUrl } });
      expect(codes(r), callbackUrl).toEqual(["BAD_USER_INPUT"]);
      expect(r.errors![0]!.message, callbackUrl).toMatch(message);
    }
    expect(await server.services.prisma.waitpoint.count({ where: { sessionId: session } })).toBe(0);
    // An allowed host may use http and a loopback address.
    const ok = await h.create({ session, callbackUrl: receiver.url("/allowed") });
    expect(ok.callback!.status).toBe("PENDING");
  });

  it("checks the address again at delivery: a name that now resolves to 127.0.0.1 is refused, nothing connects", async () => {
    const policy = server.services.callbacks.policy;
    const resolve = policy.resolve;
    // A public address at creation (documentation range, never connected to), loopback at delivery.
    let answer = "198.51.100.7";
    policy.resolve = async (name) => {
      if (name !== "rebind.test") throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      return [{ address: answer, family: 4 }];
    };
    try {
      // 198.51.100.0/24 is TEST-NET-2: public as far as the policy knows.
      const session = await createSessionId(gql);
      const waitpoint = await h.create({ session, callbackUrl: `https://rebind.test:${receiver.port}/hook` });
      const r = await gql(CREATE, { input: { session, callbackUrl: "https://nowhere.test/hook" } });
      expect(r.errors![0]!.message).toMatch(/nowhere.test does not resolve/);
      answer = "127.0.0.1";
      const before = receiver.deliveries.length;
      await h.append(session, "rebound");
      const callback = await h.untilCallback(waitpoint.id, (c) => c.attempts >= 2);
      expect(callback.status).toBe("PENDING");
      expect(callback.lastError).toMatch(/^refused: .*rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
      expect(receiver.deliveries.length).toBe(before);
    } finally {
      policy.resolve = resolve;
    }
  });

  it("keeps callback URLs off other environments and deletes the callback with its waitpoint", async () => {
    const session = await createSessionId(gql);
    const waitpoint = await h.create({ session, callbackUrl: receiver.url("/private") });
    const other = await server.newEnvironment();
    expect((await other.gql(GET, { id: waitpoint.id })).data!.waitpoint).toBeNull();
    await server.services.prisma.waitpoint.delete({ where: { id: waitpoint.id } });
    expect(await server.services.prisma.waitpointCallback.count({ where: { waitpointId: waitpoint.id } })).toBe(0);
  });
});

describe("waitpoint callbacks that keep failing (PostgreSQL)", () => {
  let server: TestServer;
  let gql: Gql;
  let secretKey: string;
  let receiver: Receiver;
  const h = harness(() => gql);

  beforeAll(async () => {
    server = await startServer(await backendEnv("postgres"), { ...FAST, CALLBACK_GIVE_UP_AFTER: "1s" });
    ({ gql, secretKey } = await server.newEnvironment());
    receiver = await startReceiver(() => 500);
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("gives up after CALLBACK_GIVE_UP_AFTER: FAILED with the last error, and waitpointChanged ends", async () => {
    const session = await createSessionId(gql);
    const waitpoint = await h.create({ session, callbackUrl: receiver.url() });
    const changes = subscribe(server, "sse-distinct", secretKey, `subscription($id: ID!) { waitpointChanged(id: $id) { status ${CALLBACK} } }`, { id: waitpoint.id });
    await changes.waitFor(1);
    await h.append(session, "x");
    const callback = await h.untilCallback(waitpoint.id, (c) => c.status === "FAILED");
    expect(callback.lastError).toBe("HTTP 500");
    expect(callback.attempts).toBeGreaterThanOrEqual(3);
    expect(callback.deliveredAt).toBeNull();
    const row = await server.services.prisma.waitpointCallback.findUniqueOrThrow({ where: { waitpointId: waitpoint.id } });
    expect(row.nextAttemptAt).toBeNull();
    // Every attempt the row counts reached the receiver, and none came after the last.
    expect(receiver.withId(row.id)).toHaveLength(callback.attempts);
    // waitpointChanged told of the completion, then of attempts as they failed, and ended with FAILED.
    await changes.done;
    expect(changes.completed).toBe(true);
    const seen = changes.items as { status: string; callback: Callback }[];
    expect(seen[0]!.status).toBe("PENDING");
    expect(seen.at(-1)!.callback).toMatchObject({ status: "FAILED", lastError: "HTTP 500" });
    expect(seen.slice(1).every((w) => w.status === "COMPLETED")).toBe(true);
    const attempts = seen.map((w) => w.callback.attempts);
    expect(attempts).toEqual([...attempts].sort((x, y) => x - y));
  });
});

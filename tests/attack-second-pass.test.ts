import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AppendInput, AppendRecord, S2 } from "@s2-dev/streamstore";
import { Redis } from "ioredis";
import type { Signal } from "../src/live/signals.js";
import { APPEND, CLOSE, createAs, duringSubscribe, errorCodes, expectCutOff, mintToken, outcome, RENAME, REVOKE, unique } from "./helpers/attack.js";
import { subscribe, transports, type Received } from "./helpers/clients.js";
import { redisUrl } from "./helpers/backends.js";
import { s2Fixture } from "./helpers/s2-fixture.js";
import { twoNodes } from "./helpers/nodes.js";
import { rotateSecretKey } from "../src/auth/secret-keys.js";
import { codes, gqlClient, startServer, type Gql, type GraphQLResponse, type TestServer } from "./helpers/test-server.js";

/**
 * Second hostile pass (issues #14, #15, #16, #12): every public access token is held by an
 * attacker in a browser. Aimed at what the first pass's fixes added: the input scope, waitpoint
 * keys per owner and hidden callbacks, the live guard's "re-check only when something may have
 * been missed", and signals per topic.
 */

const RECORDS = `subscription($id: ID!, $from: SeqNum) { sessionRecords(id: $id, io: OUT, fromSeqNum: $from) { seqNum data } }`;

let server: TestServer;
let gql: Gql;

beforeAll(async () => {
  server = await startServer("pglite", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1" });
  ({ gql } = await server.newEnvironment());
}, 180_000);
afterAll(() => server?.close());

describe("a subscription opened as its token is revoked (#15)", () => {
  for (const transport of transports) {
    it(`ends UNAUTHENTICATED and receives nothing more (${transport})`, async () => {
      const name = unique("revoked-under");
      const id = await createAs(gql, { externalId: name });
      const token = await mintToken(gql, [`read:sessions:${name}`]);
      // The token was authenticated as the request began; the revocation lands before the guard exists.
      const hook = duringSubscribe(server, id, async () => {
        expect((await gql(REVOKE)).errors).toBeUndefined();
      });
      const sub = subscribe(server, transport, token, RECORDS, { id: name, from: 0 });
      await expectCutOff(hook, sub, () => gql(APPEND, { id, io: "OUT", records: [{ data: "after the revocation" }] }), "UNAUTHENTICATED");
    });
  }
});

describe("a subscription whose re-check fails (#15)", () => {
  it("a rename whose re-check cannot read the session ends the subscription rather than letting records through", async () => {
    const name = unique("check-fails");
    const id = await createAs(gql, { externalId: name });
    const sub = subscribe(server, "ws", await mintToken(gql, [`read:sessions:${name}`]), RECORDS, { id: name });
    await server.liveSubscribers({ sessionId: id, io: "OUT" });
    // The database fails the one read the rename's check makes (a pool timeout under load, a failover).
    const sessions = server.services.sessions;
    const original = sessions.byId;
    let failed = false;
    sessions.byId = async (...args: Parameters<typeof sessions.byId>) => {
      if (args[0] === id && !failed) {
        failed = true;
        throw new Error("connection terminated unexpectedly");
      }
      return original.apply(sessions, args);
    };
    try {
      expect((await gql(RENAME, { id, name: unique("elsewhere") })).errors).toBeUndefined();
      expect((await gql(APPEND, { id, io: "OUT", records: [{ data: "not yours" }] })).errors).toBeUndefined();
      expect(await outcome(sub)).toBe("ended");
      expect(failed).toBe(true);
      expect(sub.items).toEqual([]);
      expect(errorCodes(sub)).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      sessions.byId = original;
      sub.stop();
    }
  });
});

describe("a subscription opened as its secret key is rotated out (#15)", () => {
  it("ends UNAUTHENTICATED and receives nothing more", async () => {
    const env = await server.newEnvironment();
    const id = await createAs(env.gql, { externalId: unique("rotated-under") });
    // As the CLI does: the new key in the database, then the signal that keys changed.
    let newKey = "";
    const hook = duringSubscribe(server, id, async () => {
      ({ secretKey: newKey } = await rotateSecretKey(server.services.prisma, env.id));
      server.services.signals.publish({ kind: "credentials", environmentId: env.id });
    });
    const sub = subscribe(server, "sse-distinct", env.secretKey, RECORDS, { id, from: 0 });
    try {
      await hook.ran;
      // The old key no longer works for requests; the subscription must end the same way.
      expect(codes(await env.gql(APPEND, { id, io: "OUT", records: [{ data: "x" }] }))).toEqual(["UNAUTHENTICATED"]);
      expect((await gqlClient(server.url, newKey)(APPEND, { id, io: "OUT", records: [{ data: "after the rotation" }] })).errors).toBeUndefined();
      expect(await outcome(sub)).toBe("ended");
      expect(errorCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    } finally {
      hook.restore();
      sub.stop();
    }
  });
});

describe("an agent's callback waitpoint seen with a page's token (#16)", () => {
  const FIELDS = `id status callback { url status attempts lastError }`;
  it("shows no callback by waitpoint, node or waitpointChanged, before and after it completes", async () => {
    const name = unique("callback-hidden");
    const id = await createAs(gql, { externalId: name });
    const url = "http://127.0.0.1:9/hook?secret=agent-only";
    const created = await gql(`mutation($id: ID!, $url: String!) { createSessionWaitpoint(input: { session: $id, callbackUrl: $url }) { waitpoint { id } } }`, { id, url });
    expect(created.errors).toBeUndefined();
    const waitpoint = created.data!.createSessionWaitpoint.waitpoint.id as string;
    const token = await mintToken(gql, [`admin:sessions:${name}`, "read:all"]);
    const page = gqlClient(server.url, token);
    const subs = (["ws", "sse-distinct"] as const).map((t) =>
      subscribe(server, t, token, `subscription($id: ID!) { waitpointChanged(id: $id) { ${FIELDS} } }`, { id: waitpoint }),
    );
    const asked = [
      await page(`query($id: ID!) { waitpoint(id: $id) { ${FIELDS} } }`, { id: waitpoint }),
      await page(`query($id: ID!) { node(id: $id) { ... on Waitpoint { ${FIELDS} } } }`, { id: waitpoint }),
      await page(`query($id: ID!) { node(id: $id) { ... on Waitpoint { session { id } callback { url } } } }`, { id: waitpoint }),
    ];
    for (const sub of subs) await sub.waitFor(1);
    // The page completes it: the callback becomes due, is attempted (and fails: nothing listens).
    expect((await page(APPEND, { id: name, io: "IN", records: [{ data: "go" }] })).errors).toBeUndefined();
    for (const sub of subs) await sub.waitFor(2);
    for (const sub of subs) sub.stop();
    const seen = JSON.stringify([asked, subs.map((s) => [s.items, s.errors])]);
    expect(seen).not.toContain("agent-only");
    expect(seen).not.toContain("127.0.0.1:9");
    expect(asked[0]!.data!.waitpoint).toMatchObject({ id: waitpoint, callback: null });
    // The secret key still sees it.
    expect((await gql(`query($id: ID!) { waitpoint(id: $id) { callback { url } } }`, { id: waitpoint })).data!.waitpoint.callback.url).toBe(url);
  });
});

describe("two nodes: a subscription opened on one as the other revokes or renames (#15)", () => {
  const nodes = twoNodes();
  let admin: Gql;
  let adminOnB: Gql;

  beforeAll(async () => {
    const env = await nodes.a.newEnvironment();
    admin = env.gql;
    adminOnB = gqlClient(nodes.b.url, env.secretKey);
  });

  /** Resolves once node A has heard a signal `matches` picks (from node B, over Redis). */
  const heardOnA = (matches: (signal: Signal) => boolean) =>
    new Promise<void>((resolve) => {
      const stop = nodes.a.services.signals.subscribe((signal) => {
        if (!matches(signal)) return;
        stop();
        resolve();
      });
    });

  it("revoked on the other node, heard before the guard exists: ends UNAUTHENTICATED", async () => {
    const name = unique("revoked-b");
    const id = await createAs(admin, { externalId: name });
    const token = await mintToken(admin, [`read:sessions:${name}`]);
    const hook = duringSubscribe(nodes.a, id, async () => {
      const heard = heardOnA((s) => s.kind === "revoke");
      expect((await adminOnB(REVOKE)).errors).toBeUndefined();
      await heard;
    });
    const sub = subscribe(nodes.a, "ws", token, RECORDS, { id: name, from: 0 });
    await expectCutOff(hook, sub, () => admin(APPEND, { id, io: "OUT", records: [{ data: "after the revocation" }] }), "UNAUTHENTICATED");
  });

  /**
   * Node A's Redis subscriber connection drops and comes back a while later (a Redis failover, a
   * network blip); what node B says meanwhile (`during`) never reaches it. Resolves once A is back.
   */
  async function outage(during: () => Promise<void>) {
    const subscriber = (nodes.a.services.signals as unknown as { subscriber: Redis }).subscriber;
    const retry = subscriber.options.retryStrategy;
    subscriber.options.retryStrategy = () => 1_500;
    // Back, and its subscriptions with it.
    const back = heardOnA((s) => s.kind === "missed");
    try {
      subscriber.disconnect(true);
      await during();
      expect(subscriber.status).not.toBe("ready");
      await back;
    } finally {
      subscriber.options.retryStrategy = retry;
    }
  }

  it("revoked and renamed while node A's Redis connection was down: its subscriptions end once it is back", async () => {
    const revoking = await nodes.a.newEnvironment();
    const revokedId = await createAs(revoking.gql, { externalId: unique("outage-revoked") });
    const revokedSub = subscribe(nodes.a, "ws", await mintToken(revoking.gql, ["read:all"]), RECORDS, { id: revokedId });
    const name = unique("outage-renamed");
    const renamedId = await createAs(admin, { externalId: name });
    const renamedSub = subscribe(nodes.a, "sse-distinct", await mintToken(admin, [`read:sessions:${name}`]), RECORDS, { id: name });
    await nodes.a.liveSubscribers({ sessionId: revokedId, io: "OUT" });
    await nodes.a.liveSubscribers({ sessionId: renamedId, io: "OUT" });

    await outage(async () => {
      expect((await gqlClient(nodes.b.url, revoking.secretKey)(REVOKE)).errors).toBeUndefined();
      expect((await adminOnB(RENAME, { id: renamedId, name: unique("elsewhere") })).errors).toBeUndefined();
    });
    try {
      expect((await revoking.gql(APPEND, { id: revokedId, io: "OUT", records: [{ data: "after the revocation" }] })).errors).toBeUndefined();
      expect((await admin(APPEND, { id: renamedId, io: "OUT", records: [{ data: "not yours" }] })).errors).toBeUndefined();
      expect(await Promise.all([outcome(revokedSub), outcome(renamedSub)])).toEqual(["ended", "ended"]);
      expect([revokedSub.items, renamedSub.items]).toEqual([[], []]);
      expect([errorCodes(revokedSub), errorCodes(renamedSub)]).toEqual([["UNAUTHENTICATED"], ["FORBIDDEN"]]);
    } finally {
      revokedSub.stop();
      renamedSub.stop();
    }
  });

  it("an append and a close made on the other node while node A's Redis connection was down reach A's subscribers once it is back", async () => {
    const appendedTo = await createAs(admin, {});
    const closed = await createAs(admin, {});
    const key = await mintToken(admin, ["read:all"]);
    const following = subscribe(nodes.a, "ws", key, RECORDS, { id: appendedTo });
    const ending = subscribe(nodes.a, "sse-distinct", key, RECORDS, { id: closed });
    await nodes.a.liveSubscribers({ sessionId: appendedTo, io: "OUT" });
    await nodes.a.liveSubscribers({ sessionId: closed, io: "OUT" });
    try {
      await outage(async () => {
        expect((await adminOnB(APPEND, { id: appendedTo, io: "OUT", records: [{ data: "while A was away" }] })).errors).toBeUndefined();
        expect((await adminOnB(CLOSE, { id: closed })).errors).toBeUndefined();
      });
      // Nothing more is appended or closed: A's followers must look again on their own.
      expect((await following.waitFor(1, 10_000)).map((r) => (r as { data: unknown }).data)).toEqual(["while A was away"]);
      await ending.done;
      expect(ending.completed).toBe(true);
    } finally {
      following.stop();
      ending.stop();
    }
  });

  it("subscriptions cut off as they open leave no topic listened to, no follower, no watch (#12)", { timeout: 120_000 }, async () => {
    const redis = new Redis(redisUrl());
    const topicsHeard = async () => ((await redis.pubsub("CHANNELS", "sessions:signals:*")) as string[]).length;
    try {
      const name = unique("churn");
      const id = await createAs(admin, { externalId: name });
      const waitpoint = (await admin(`mutation($id: ID!) { createSessionWaitpoint(input: { session: $id }) { waitpoint { id } } }`, { id })).data!
        .createSessionWaitpoint.waitpoint.id as string;
      const baseline = await topicsHeard();
      const token = await mintToken(admin, [`read:sessions:${name}`]);
      const stranger = await mintToken(admin, ["read:sessions:someone-else"]);
      const operations: [string, string, Record<string, unknown>][] = [
        [token, RECORDS, { id: name }],
        [token, RECORDS, { id: name, from: 0 }],
        [token, `subscription($id: ID!) { sessionChanged(id: $id) { id } }`, { id: name }],
        [token, `subscription($id: ID!) { waitpointChanged(id: $id) { id status } }`, { id: waitpoint }],
        [token, `subscription($id: ID!) { waitpointChanged(id: $id) { id } }`, { id: "waitpoint_doesnotexist0000000000" }],
        [stranger, RECORDS, { id }],
        [stranger, `subscription($id: ID!) { waitpointChanged(id: $id) { id } }`, { id: waitpoint }],
      ];
      const subs: Received<unknown>[] = [];
      const cut: Promise<void>[] = [];
      for (let round = 0; round < 6; round++) {
        for (const [i, [credential, query, variables]] of operations.entries()) {
          // Over SSE: a WebSocket client disposed while it connects fails in this process, not the server's.
          const sub = subscribe(nodes.a, (round + i) % 2 === 0 ? "sse-distinct" : "sse-single", credential, query, variables);
          subs.push(sub);
          // Cut at every point of its opening: before it is sent, while it is checked, once it is live.
          cut.push(new Promise((resolve) => setTimeout(() => resolve(sub.stop()), (round * 7 + i * 3) % 40)));
        }
      }
      await Promise.all(cut);
      const { fanout, sessionWatch, waitpoints } = nodes.a.services;
      await vi.waitFor(
        async () => {
          expect({ topics: await topicsHeard(), followers: fanout.followerCount, watches: sessionWatch.size + waitpoints.watchCount }).toEqual({
            topics: baseline,
            followers: 0,
            watches: 0,
          });
        },
        { timeout: 20_000, interval: 100 },
      );
    } finally {
      redis.disconnect();
    }
  });

  for (const listened of [false, true]) {
    it(`renamed on the other node while ${listened ? "another subscriber already listens to the session" : "nobody listens to the session"}: receives none of its records`, async () => {
      const name = unique("renamed-b");
      const id = await createAs(admin, { externalId: name });
      const token = await mintToken(admin, [`read:sessions:${name}`]);
      // A subscriber by friendly id (read:all) keeps node A listening to the session's topic, confirmed.
      const bystander = listened ? subscribe(nodes.a, "ws", await mintToken(admin, ["read:all"]), RECORDS, { id }) : undefined;
      if (bystander) await nodes.a.liveSubscribers({ sessionId: id, io: "OUT" });
      const hook = duringSubscribe(nodes.a, id, async () => {
        const heard = heardOnA((s) => s.kind === "session" && s.sessionId === id);
        expect((await adminOnB(RENAME, { id, name: unique("elsewhere") })).errors).toBeUndefined();
        if (listened) await heard;
      });
      const sub = subscribe(nodes.a, "sse-distinct", token, RECORDS, { id: name, from: 0 });
      try {
        await expectCutOff(hook, sub, () => admin(APPEND, { id, io: "OUT", records: [{ data: "not yours" }] }), "FORBIDDEN");
      } finally {
        bystander?.stop();
      }
    });
  }
});

describe("direct channel access handed out as its rights end (#15)", () => {
  const fx = s2Fixture();

  const changes: [string, (id: string) => Promise<void>, string | undefined][] = [
    ["the token is revoked", async () => void expect((await fx.gql(REVOKE)).errors).toBeUndefined(), "UNAUTHENTICATED"],
    ["the session is renamed away from the token's name", async (id) => void expect((await fx.gql(RENAME, { id, name: unique("elsewhere") })).errors).toBeUndefined(), "NOT_FOUND"],
    // Closed: read access is still the page's, as for one asked a moment later.
    ["the session is closed", async (id) => void expect((await fx.gql(CLOSE, { id })).errors).toBeUndefined(), undefined],
  ];
  for (const [change, make, refusal] of changes) {
    it(`a stream token issued while ${change} is revoked at the store`, async () => {
      const name = unique("direct");
      const id = await createAs(fx.gql, { externalId: name });
      const page = gqlClient(fx.server.url, await mintToken(fx.gql, [`input:sessions:${name}`]));
      // The change lands after the page's request was checked, before its grant is recorded.
      const grants = fx.server.services.accessGrants;
      const original = grants.issue;
      let made = false;
      grants.issue = async (...args: Parameters<typeof grants.issue>) => {
        if (!made && args[2].sessionId === id) {
          made = true;
          await make(id);
        }
        return original.apply(grants, args);
      };
      let r: GraphQLResponse;
      try {
        r = await page(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { accessToken } }`, { id: name });
      } finally {
        grants.issue = original;
      }
      expect(made).toBe(true);
      expect(codes(r)).toEqual(refusal ? [refusal] : []);
      const forSession = fx.double.issued.filter((t) => JSON.stringify(t.scope).includes(`sessions/${id}/`));
      expect(forSession.length).toBeGreaterThan(0);
      // Nothing that still works was given under rights that had ended: no write to a closed session, nothing after a revocation or a rename.
      const live = forSession.filter((t) => !t.revoked);
      if (refusal) expect(live).toEqual([]);
      else {
        expect(live.map((t) => t.token)).toEqual([r.data!.initializeSessionChannel.accessToken]);
        expect(JSON.stringify(live[0]!.scope)).not.toContain("append");
      }
    });
  }

  const WAIT = `mutation($id: ID!, $after: SeqNum) { createSessionWaitpoint(input: { session: $id, afterSeqNum: $after, timeout: "1h" }) { waitpoint { id status } } }`;
  const completes = (waitpoint: string) =>
    vi.waitFor(
      async () => {
        const r = await fx.gql(`query($id: ID!) { waitpoint(id: $id) { status record { seqNum } } }`, { id: waitpoint });
        expect(r.data!.waitpoint).toEqual({ status: "COMPLETED", record: { seqNum: 0 } });
      },
      { timeout: 10_000, interval: 100 },
    );

  it("a page's record with the NUL character in a string completes the agent's waitpoint (#14, #16)", async () => {
    const name = unique("nul");
    const id = await createAs(fx.gql, { externalId: name });
    const waitpoint = (await fx.gql(WAIT, { id, after: 0 })).data!.createSessionWaitpoint.waitpoint.id as string;
    const page = gqlClient(fx.server.url, await mintToken(fx.gql, [`input:sessions:${name}`]));
    const message = { type: "chat.message", message: { id: "m1", role: "user", parts: [{ type: "text", text: "a\u0000b" }] } };
    expect((await page(APPEND, { id: name, io: "IN", records: [{ data: message }] })).errors).toBeUndefined();
    await completes(waitpoint);
  });


  it("a page's direct write of JSON nested too deep, or with escapes jsonb refuses, is read as its text and completes the agent's waitpoint (#14, #16)", async () => {
    const bodies = ["[".repeat(100_000) + "]".repeat(100_000), JSON.stringify({ text: "lone \ud800 surrogate" }), `{"text":"nul \\u0000 byte \u0000"}`];
    for (const body of bodies) {
      const name = unique("direct-deep");
      const id = await createAs(fx.gql, { externalId: name });
      const waitpoint = (await fx.gql(WAIT, { id, after: 0 })).data!.createSessionWaitpoint.waitpoint.id as string;
      const page = gqlClient(fx.server.url, await mintToken(fx.gql, [`input:sessions:${name}`]));
      const access = (await page(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { basin stream endpoint accessToken } }`, { id: name })).data!
        .initializeSessionChannel;
      const stream = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint } })
        .basin(access.basin)
        .stream(access.stream, { forceTransport: "fetch" });
      await stream.append(AppendInput.create([AppendRecord.string({ body })]));
      // The agent reads in, live and stored, and is woken by its waitpoint.
      const read = await fx.gql(`query($id: ID!) { session(id: $id) { in { records { seqNum data } } } }`, { id });
      expect(read.errors, body.slice(0, 40)).toBeUndefined();
      expect(read.data!.session.in.records).toHaveLength(1);
      const sub = subscribe(fx.server, "ws", (await mintToken(fx.gql, ["read:all"])), `subscription($id: ID!) { sessionRecords(id: $id, io: IN, fromSeqNum: 0) { seqNum } }`, { id });
      try {
        expect(await sub.waitFor(1)).toEqual([{ seqNum: 0 }]);
      } finally {
        sub.stop();
      }
      await completes(waitpoint);
    }
  });

});


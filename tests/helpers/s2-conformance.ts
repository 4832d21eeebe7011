import { AppendInput, AppendRecord, meteredBytes, RangeNotSatisfiableError, S2, type S2Basin } from "@s2-dev/streamstore";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { S2_STREAM_CONFIG } from "../../src/channels/s2-stream-store.js";
import { backendEnv } from "./backends.js";
import { createSessionId, startServer, type TestServer } from "./test-server.js";

/**
 * One S2 conformance suite: what the service relies on S2 for, asserted through the SDK and the
 * service's own S2StreamStore, against any S2 — the test double (tests/s2-conformance.test.ts, in
 * `npm test`), s2-lite or S2 cloud (tests/s2-real/, `npm run test:s2-real`). The cases are those S2's
 * own SDK end-to-end tests assert (s2-sdk-typescript, packages/streamstore/src/tests/spec.e2e.test.ts:
 * 416 at the tail, the read caps, auto-creation) and those the service needs besides (its stream
 * configuration, scoped tokens). A case a target cannot run is not registered (`S2TargetTraits`),
 * and the runner prints why: nothing is skipped.
 */

export interface S2Target {
  /** The service's S2 settings for this target (S2_ACCESS_TOKEN, S2_BASIN and endpoints). */
  env: Record<string, string>;
  /** A client with the root token, on the target's endpoints. */
  sdk: S2;
  basin: string;
  /**
   * A basin with create_stream_on_append (and on read), its streams kept an hour by default:
   * as S2's e2e tests make one. Answers its name and how to be rid of it.
   */
  autoCreatingBasin(): Promise<{ env: Record<string, string>; sdk: S2; basin: string; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface S2TargetTraits {
  /** Whether the target issues access tokens (s2-lite does not: it has no authentication). */
  tokens: boolean;
}

const APPEND = `mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: "a" }]) { firstSeqNum } }`;
const one = (body: string) => AppendInput.create([AppendRecord.string({ body })]);
/** What a promise came to: "ok", or the status S2 refused with. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: unknown) => String((e as { status?: number }).status ?? e),
  );

export function s2Conformance(traits: S2TargetTraits, open: () => Promise<S2Target>) {
  let target: S2Target;
  let basin: S2Basin;
  let server: TestServer;
  const fresh = async (prefix: string) => {
    const name = `conformance/${prefix}-${randomUUID()}`;
    await basin.streams.create({ stream: name });
    return basin.stream(name, { forceTransport: "fetch" });
  };

  beforeAll(async () => {
    target = await open();
    basin = target.sdk.basin(target.basin);
    server = await startServer({ ...(await backendEnv("pglite")), ...target.env });
  });
  afterAll(async () => {
    await server?.close();
    await target?.close();
  });

  it("answers 416 for a unary read at the tail: an empty stream, and a clamped start past the tail", async () => {
    const empty = await fresh("empty");
    await expect(empty.read({ start: { from: { seqNum: 0 } } })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    const one1 = await fresh("clamp");
    await one1.append(one("record"));
    await expect(one1.read({ start: { from: { seqNum: 999_999 }, clamp: true } })).rejects.toMatchObject({ status: 416 });
    // count 0 before the tail is an empty batch, not 416.
    expect((await one1.read({ start: { from: { seqNum: 0 } }, stop: { limits: { count: 0 } } })).records).toHaveLength(0);
  });

  it("caps a unary read at 1000 records and 1 MiB metered", async () => {
    const many = await fresh("count");
    await many.append(AppendInput.create(Array.from({ length: 1000 }, (_, i) => AppendRecord.string({ body: `r${i}` }))));
    await many.append(AppendInput.create(Array.from({ length: 100 }, (_, i) => AppendRecord.string({ body: `s${i}` }))));
    expect((await many.read({ start: { from: { seqNum: 0 } }, stop: { limits: { count: 5000 } } })).records).toHaveLength(1000);

    const big = await fresh("bytes");
    const body = "x".repeat(64 * 1024);
    for (let i = 0; i < 2; i++) await big.append(AppendInput.create(Array.from({ length: 15 }, () => AppendRecord.string({ body }))));
    const batch = await big.read({ start: { from: { seqNum: 0 } }, stop: { limits: { bytes: 10_000_000 } } });
    const total = batch.records.reduce((n, r) => n + meteredBytes(r), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(1024 * 1024);
    expect(batch.records.length).toBeLessThan(30);
  });

  it("makes the service's streams with its configuration: kept until trimmed, never deleted when empty", async () => {
    const { gql } = await server.newEnvironment();
    const id = await createSessionId(gql);
    expect((await gql(APPEND, { id })).errors).toBeUndefined();
    const config = await basin.streams.getConfig({ stream: `sessions/${id}/out` });
    expect(config.retentionPolicy).toEqual(S2_STREAM_CONFIG.retentionPolicy);
    expect(config.deleteOnEmpty?.minAgeSecs ?? 0).toBe(0);
    // Trimmed to its tail, the stream goes on from there (its trim command took seqNum 1).
    expect((await gql(`mutation($id: ID!) { trimSessionChannel(id: $id, io: OUT, beforeSeqNum: 1) { headSeqNum } }`, { id })).errors).toBeUndefined();
    expect((await gql(APPEND, { id })).data!.appendToSession.firstSeqNum).toBe(2);
  });

  it("auto-creates a stream on append where the basin says so, and the service sets its configuration on it", async () => {
    const auto = await target.autoCreatingBasin();
    const other = await startServer({ ...(await backendEnv("pglite")), ...auto.env });
    try {
      const name = `conformance/auto-${randomUUID()}`;
      const stream = auto.sdk.basin(auto.basin).stream(name, { forceTransport: "fetch" });
      expect((await stream.append(one("made by append"))).start.seqNum).toBe(0);
      const made = await auto.sdk.basin(auto.basin).streams.getConfig({ stream: name });
      expect(made.retentionPolicy).toEqual({ ageSecs: 3600 });
      // The service's first append to a stream the basin made: its configuration replaces the basin's.
      const { gql } = await other.newEnvironment();
      const id = await createSessionId(gql);
      expect((await gql(APPEND, { id })).errors).toBeUndefined();
      const config = await auto.sdk.basin(auto.basin).streams.getConfig({ stream: `sessions/${id}/out` });
      expect(config.retentionPolicy).toEqual(S2_STREAM_CONFIG.retentionPolicy);
      expect(config.deleteOnEmpty?.minAgeSecs ?? 0).toBe(0);
    } finally {
      await other.close();
      await auto.close();
    }
  });

  if (traits.tokens) {
    it("scopes a token to its stream and operations, its expiry within the issuer's", async () => {
      const mine = await fresh("scoped");
      const other = await fresh("other");
      const id = `conformance-${randomUUID()}`;
      const expiresAt = new Date(Date.now() + 10 * 60_000);
      const { accessToken } = await target.sdk.accessTokens.issue({
        id,
        scope: { basins: { exact: target.basin }, streams: { exact: mine.name }, ops: ["read", "check-tail", "append"] },
        expiresAt,
      });
      try {
        const scoped = new S2({ accessToken, endpoints: endpointsOf(target.env), retry: { maxAttempts: 1 } }).basin(target.basin);
        expect(await outcome(scoped.stream(mine.name, { forceTransport: "fetch" }).append(one("mine")))).toBe("ok");
        expect(await outcome(scoped.stream(other.name, { forceTransport: "fetch" }).append(one("theirs")))).toBe("403");
        expect(await outcome(scoped.stream(mine.name, { forceTransport: "fetch" }).append(AppendInput.create([AppendRecord.trim(1)])))).toBe("403");
        expect(await outcome(scoped.streams.delete({ stream: mine.name }))).toBe("403");
      } finally {
        await target.sdk.accessTokens.revoke({ id });
      }
    });
  }
}

/** The SDK's endpoints from the service's S2 settings (as src/config.ts reads them). */
export function endpointsOf(env: Record<string, string>) {
  const account = env.S2_ACCOUNT_ENDPOINT ?? env.S2_ENDPOINT;
  const basin = env.S2_BASIN_ENDPOINT ?? env.S2_ENDPOINT;
  return { ...(account && { account }), ...(basin && { basin }) };
}

import { expect } from "vitest";
import type { Received } from "./clients.js";
import { gqlClient, type Gql, type GraphQLResponse, type TestServer } from "./test-server.js";

export const CREATE = `mutation($input: CreateSessionInput!) { createSession(input: $input) { isCached session { id externalId } } }`;
export const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $key: String) {
  appendToSession(id: $id, io: $io, records: $records, idempotencyKey: $key) { firstSeqNum lastSeqNum tailSeqNum deduplicated } }`;
export const MINT = `mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token } }`;
export const REVOKE = `mutation { revokePublicAccessTokens { revokedBefore } }`;
export const RENAME = `mutation($id: ID!, $name: String) { updateSession(id: $id, input: { externalId: $name }) { id externalId } }`;
export const CLOSE = `mutation($id: ID!) { closeSession(id: $id) { id status } }`;
export const DELETE = `mutation($id: ID!) { deleteSession(id: $id) { id deleted } }`;

export const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

/** Creates a session with the secret key's client, expecting no error; its friendly id. */
export async function createAs(gql: Gql, input: Record<string, unknown>): Promise<string> {
  const r = await gql(CREATE, { input: { type: "attack", ...input } });
  expect(r.errors).toBeUndefined();
  return r.data!.createSession.session.id as string;
}

/** A public access token minted by the secret key's client. */
export async function mintToken(gql: Gql, scopes: string[], expiresIn?: string): Promise<string> {
  const r = await gql(MINT, { s: scopes, e: expiresIn });
  expect(r.errors).toBeUndefined();
  return r.data!.createPublicAccessToken.token as string;
}

export const tokenClient = async (server: Pick<TestServer, "url">, gql: Gql, scopes: string[]) => gqlClient(server.url, await mintToken(gql, scopes));

/**
 * Runs `meanwhile` once, after a subscription on `sessionId` has found its session and passed its
 * scope check and before it is guarded (sessionRecords reads the channel's first record in between
 * when fromSeqNum is given).
 */
export function duringSubscribe(server: TestServer, sessionId: string, meanwhile: () => Promise<void>) {
  const store = server.services.store;
  const original = store.read;
  let ran!: () => void;
  let failed!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => ((ran = resolve), (failed = reject)));
  let started = false;
  store.read = async (channel, ...rest) => {
    if (channel.sessionId === sessionId && !started) {
      started = true;
      await meanwhile().then(ran, failed);
    }
    return original.call(store, channel, ...rest);
  };
  return {
    ran: done,
    restore: () => {
      store.read = original;
    },
  };
}

/** How a subscription that must receive nothing turned out within `ms`: ended, or still open, or it received something. */
export async function outcome(sub: Received<unknown>, ms = 5_000): Promise<"ended" | "leaked" | "open"> {
  if (sub.items.length > 0) return "leaked";
  return Promise.race([sub.done.then(() => "ended" as const), sub.waitFor(1, ms).then(() => "leaked" as const, () => "open" as const)]);
}

export const errorCodes = (sub: Received<unknown>) => sub.errors.map((e) => (e as { extensions?: { code?: string } }).extensions?.code);

/**
 * Once `hook` (what happened while `sub` opened) has run, `append` must succeed and reach nothing:
 * `sub` ends with `code` having received no record. The hook is undone and `sub` stopped either way.
 */
export async function expectCutOff(hook: { ran: Promise<void>; restore(): void }, sub: Received<unknown>, append: () => Promise<GraphQLResponse>, code: string) {
  try {
    await hook.ran;
    expect((await append()).errors).toBeUndefined();
    expect(await outcome(sub)).toBe("ended");
    expect(sub.items).toEqual([]);
    expect(errorCodes(sub)).toEqual([code]);
  } finally {
    hook.restore();
    sub.stop();
  }
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duringSubscribe } from "./helpers/attack.js";
import { subscribe } from "./helpers/clients.js";
import { s2Fixture } from "./helpers/s2-fixture.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * A hostile public token against trimSessionChannel and deleteSession (issue #15). A scope that
 * names a session by its friendly id covers that session only, whatever name it has; one that
 * names an externalId covers whichever session holds the name at each request. The request's
 * session cache (shared by the scope check and the resolvers) must never let a check made on one
 * session clear an operation on another: in one mutation document the fields run one after the
 * other, and between two of them another client may delete, rename or create sessions.
 */

const CREATE = `mutation($input: CreateSessionInput!) { createSession(input: $input) { isCached session { id externalId } } }`;
const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $key: String) {
  appendToSession(id: $id, io: $io, records: $records, idempotencyKey: $key) { firstSeqNum lastSeqNum tailSeqNum } }`;
const TRIM = `mutation($id: ID!, $io: SessionIO!, $before: SeqNum!) { trimSessionChannel(id: $id, io: $io, beforeSeqNum: $before) { io headSeqNum tailSeqNum } }`;
const DELETE = `mutation($id: ID!) { deleteSession(id: $id) { id deleted } }`;
const SESSION = `query($id: ID!) { session(id: $id) { id externalId in { headSeqNum tailSeqNum } out { headSeqNum tailSeqNum } } }`;
const READ_IN = `query($id: ID!) { session(id: $id) { in { records(fromSeqNum: 0) { seqNum data } } } }`;
const RENAME = `mutation($id: ID!, $name: String) { updateSession(id: $id, input: { externalId: $name }) { id externalId } }`;
const MINT = `mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`;

let server: TestServer;
let gql: Gql;
let key: string;
let other: Gql;

beforeAll(async () => {
  server = await startServer("pglite");
  ({ gql, secretKey: key } = await server.newEnvironment());
  other = (await server.newEnvironment()).gql;
}, 180_000);
afterAll(() => server?.close());

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
const create = async (input: Record<string, unknown>, client = gql) => {
  const r = await client(CREATE, { input: { type: "attack", ...input } });
  expect(r.errors).toBeUndefined();
  return r.data!.createSession.session.id as string;
};
const mint = async (scopes: string[], client = gql) => {
  const r = await client(MINT, { s: scopes });
  expect(r.errors).toBeUndefined();
  return gqlClient(server.url, r.data!.createPublicAccessToken.token as string);
};

describe("the request's session cache never carries a scope check over to another session", () => {
  it("deleteSession: a token for one session (by friendly id) cannot delete the session that takes its name next", async () => {
    const name = unique("victim");
    const first = await create({ externalId: name });
    const attacker = await mint([`admin:sessions:${first}`]);

    // The victim's chat page creates its session again as soon as the old one is gone: here, right
    // after the attacker's first field deleted it, before the second field runs.
    const deleter = server.services.lifecycle.deleter;
    const original = deleter.delete.bind(deleter);
    let second: string | undefined;
    deleter.delete = async (...args: Parameters<typeof deleter.delete>) => {
      const deleted = await original(...args);
      if (args[0] === first) second = await create({ externalId: name });
      return deleted;
    };
    try {
      const r = await attacker(`mutation($id: ID!) { a: deleteSession(id: $id) { id deleted } b: deleteSession(id: $id) { id deleted } }`, { id: name });
      expect(r.data?.a).toEqual({ id: first, deleted: true });
      expect(second).toBeDefined();
      // The second field must not reach the new session: it is not the attacker's.
      expect((r.data?.b as { deleted?: boolean } | null | undefined)?.deleted ?? false).toBe(false);
    } finally {
      deleter.delete = original;
    }
    expect((await gql(SESSION, { id: second })).data!.session).toMatchObject({ id: second, externalId: name });
  });

  it("appendToSession: a token for one session (by friendly id) cannot write to the session that takes its name next", async () => {
    const name = unique("renamed");
    const first = await create({ externalId: name });
    const attacker = await mint([`write:sessions:${first}`]);

    // Between the attacker's two fields, the session's owner renames it and another session takes the name.
    const trimmer = server.services.lifecycle.trimmer;
    const original = trimmer.trim.bind(trimmer);
    let second: string | undefined;
    trimmer.trim = async (...args: Parameters<typeof trimmer.trim>) => {
      const head = await original(...args);
      if (args[0].sessionId === first && second === undefined) {
        expect((await gql(RENAME, { id: first, name: null })).errors).toBeUndefined();
        second = await create({ externalId: name });
      }
      return head;
    };
    try {
      await attacker(
        `mutation($id: ID!) {
          a: trimSessionChannel(id: $id, io: IN, beforeSeqNum: 0) { headSeqNum }
          b: appendToSession(id: $id, io: IN, records: [{ data: "planted" }]) { firstSeqNum }
        }`,
        { id: name },
      );
    } finally {
      trimmer.trim = original;
    }
    expect(second).toBeDefined();
    expect((await gql(READ_IN, { id: second })).data!.session.in.records).toEqual([]);
  });
});

describe("held: trims and deletes stay within their scope", () => {
  it("trim and delete need their scope over this session, in this environment; beforeSeqNum is a SeqNum", async () => {
    const name = unique("mine");
    const id = await create({ externalId: name });
    await gql(APPEND, { id, io: "OUT", records: [{ data: 1 }, { data: 2 }, { data: 3 }] });
    const theirs = await create({ externalId: unique("theirs") });
    const writer = await mint([`write:sessions:${name}`]);
    const reader = await mint([`read:sessions:${name}`]);
    const stranger = await mint(["admin"], other);

    // Another session, by either of its names; another environment's admin; a read token; delete with write.
    expect(codes(await writer(TRIM, { id: theirs, io: "OUT", before: 1 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await writer(DELETE, { id: theirs }))).toEqual(["FORBIDDEN"]);
    expect(codes(await writer(DELETE, { id }))).toEqual(["FORBIDDEN"]);
    expect(codes(await reader(TRIM, { id, io: "OUT", before: 1 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await stranger(TRIM, { id, io: "OUT", before: 1 }))).toEqual(["NOT_FOUND"]);
    expect(await stranger(DELETE, { id })).toMatchObject({ data: { deleteSession: { deleted: false } } });
    for (const before of [-1, 1.5, 2 ** 53, "1", 1e300, null]) {
      expect(codes(await writer(TRIM, { id, io: "OUT", before })), JSON.stringify(before)).toEqual(["BAD_USER_INPUT"]);
    }
    expect(codes(await writer(`mutation($id: ID!) { trimSessionChannel(id: $id, io: OUT, beforeSeqNum: 9007199254740992) { headSeqNum } }`, { id }))).toEqual([
      "BAD_USER_INPUT",
    ]);
    expect((await gql(SESSION, { id })).data!.session.out).toEqual({ headSeqNum: 0, tailSeqNum: 3 });
    expect((await gql(SESSION, { id: theirs })).data!.session).not.toBeNull();

    // The largest SeqNum trims to the tail and no further; the other channel is untouched.
    const max = await writer(TRIM, { id, io: "OUT", before: 2 ** 53 - 1 });
    expect(max.data!.trimSessionChannel).toEqual({ io: "OUT", headSeqNum: 3, tailSeqNum: 3 });
    expect((await gql(SESSION, { id })).data!.session.in).toEqual({ headSeqNum: 0, tailSeqNum: 0 });
  });

  it("a token for a name reaches a renamed session by neither name, nor by its friendly id", async () => {
    const name = unique("before");
    const id = await create({ externalId: name });
    await gql(APPEND, { id, io: "OUT", records: [{ data: 1 }, { data: 2 }] });
    const token = await mint([`admin:sessions:${name}`]);
    const after = unique("after");
    expect((await gql(RENAME, { id, name: after })).errors).toBeUndefined();
    expect(codes(await token(TRIM, { id, io: "OUT", before: 2 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await token(TRIM, { id: after, io: "OUT", before: 2 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await token(TRIM, { id: name, io: "OUT", before: 2 }))).toEqual(["NOT_FOUND"]);
    expect(codes(await token(DELETE, { id }))).toEqual(["FORBIDDEN"]);
    expect(codes(await token(DELETE, { id: after }))).toEqual(["FORBIDDEN"]);
    expect((await token(DELETE, { id: name })).data!.deleteSession).toEqual({ id: name, deleted: false });
    expect((await gql(SESSION, { id })).data!.session).toMatchObject({ externalId: after, out: { headSeqNum: 0, tailSeqNum: 2 } });
  });

  it("a session made again under a deleted one's name sees none of its records, nor its idempotency keys", async () => {
    const name = unique("reborn");
    const old = await create({ externalId: name });
    const token = await mint([`admin:sessions:${name}`]);
    const first = await token(APPEND, { id: name, io: "IN", records: [{ data: "old secret" }], key: "k1" });
    expect(first.data!.appendToSession).toMatchObject({ firstSeqNum: 0 });
    expect((await token(DELETE, { id: name })).data!.deleteSession).toEqual({ id: old, deleted: true });
    const reborn = await create({ externalId: name });
    expect(reborn).not.toBe(old);
    // The same key on the new session is a new append, not the old one's answer.
    const again = await token(APPEND, { id: name, io: "IN", records: [{ data: "new" }], key: "k1" });
    expect(again.data!.appendToSession).toEqual({ firstSeqNum: 0, lastSeqNum: 0, tailSeqNum: 1 });
    expect((await token(READ_IN, { id: name })).data!.session.in.records).toEqual([{ seqNum: 0, data: "new" }]);
    // The old session is gone for good, by its friendly id too.
    expect((await gql(SESSION, { id: old })).data!.session).toBeNull();
    expect(codes(await gql(APPEND, { id: old, io: "IN", records: [{ data: "x" }] }))).toEqual(["NOT_FOUND"]);
  });
});

describe("a subscription opened while its session is deleted or renamed away", () => {
  const RECORDS = `subscription($id: ID!, $from: SeqNum) { sessionRecords(id: $id, io: OUT, fromSeqNum: $from) { seqNum data } }`;

  it("one opened as its session is deleted ends with NOT_FOUND", async () => {
    const name = unique("deleted-under");
    const id = await create({ externalId: name });
    const hook = duringSubscribe(server, id, async () => {
      expect((await gql(DELETE, { id })).data!.deleteSession).toEqual({ id, deleted: true });
    });
    const token = (await gql(MINT, { s: [`read:sessions:${name}`] })).data!.createPublicAccessToken.token as string;
    const sub = subscribe(server, "ws", token, RECORDS, { id: name, from: 0 });
    try {
      await hook.ran;
      // The session is gone: the subscription must end, NOT_FOUND, as one opened before the delete does.
      // (The 5 s only bound a failure: a subscription that ends does so at once.)
      await Promise.race([sub.done, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      expect(sub.errors.map((e) => (e as { extensions?: { code?: string } }).extensions?.code)).toEqual(["NOT_FOUND"]);
    } finally {
      hook.restore();
      sub.stop();
    }
  });

  it("one opened as its session is renamed away from the token's name receives none of its records", async () => {
    const name = unique("renamed-under");
    const id = await create({ externalId: name });
    const hook = duringSubscribe(server, id, async () => {
      expect((await gql(RENAME, { id, name: unique("elsewhere") })).errors).toBeUndefined();
    });
    const token = (await gql(MINT, { s: [`read:sessions:${name}`] })).data!.createPublicAccessToken.token as string;
    const sub = subscribe(server, "ws", token, RECORDS, { id: name, from: 0 });
    try {
      await hook.ran;
      // A record appended to the session, which the token no longer covers: a subscription from 0 would replay it.
      await gql(APPEND, { id, io: "OUT", records: [{ data: "not yours" }] });
      const outcome = await Promise.race([sub.done.then(() => "ended"), sub.waitFor(1, 5_000).then(() => "leaked", () => "open")]);
      expect(sub.items).toEqual([]);
      expect(outcome).toBe("ended");
    } finally {
      hook.restore();
      sub.stop();
    }
  });
});

describe("deleteSession on S2 with direct access handed out meanwhile", () => {
  const fx = s2Fixture();

  it("a stream token issued between the delete's revocation and its removal of the row is revoked too", async () => {
    const name = unique("direct");
    const r = await fx.gql(CREATE, { input: { type: "attack", externalId: name } });
    const id = r.data!.createSession.session.id as string;
    const token = (await fx.gql(MINT, { s: [`write:sessions:${name}`] })).data!.createPublicAccessToken.token as string;
    const page = gqlClient(fx.server.url, token);

    // The page asks for direct access while the delete is under way: after its revocation pass.
    const grants = fx.server.services.accessGrants;
    const original = grants.revoke;
    let issued: string | undefined;
    grants.revoke = async (where) => {
      const n = await original.call(grants, where);
      if ((where as { sessionId?: string }).sessionId === id && issued === undefined) {
        const access = await page(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { accessToken } }`, { id: name });
        issued = access.data!.initializeSessionChannel.accessToken as string;
      }
      return n;
    };
    try {
      expect((await fx.gql(DELETE, { id })).data!.deleteSession).toEqual({ id, deleted: true });
    } finally {
      grants.revoke = original;
    }
    expect(issued).toBeTruthy();
    // Every stream token of the deleted session is dead at S2, the one issued meanwhile included.
    const forSession = fx.double.issued.filter((t) => JSON.stringify(t.scope).includes(`sessions/${id}/`));
    expect(forSession.map((t) => t.token)).toContain(issued);
    expect(forSession.filter((t) => !t.revoked).map((t) => t.id)).toEqual([]);
  });
});

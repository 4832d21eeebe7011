import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscribe } from "./helpers/clients.js";
import { codes, gqlClient, startServer, type Gql, type GraphQLResponse, type TestServer } from "./helpers/test-server.js";

/**
 * The auth matrix of issue #11: every mutation, query and subscription, tried with every kind of
 * credential, against what the contract's scope rules allow. One session ("the target") is named
 * by the scopes; mutations that change it get a target of their own.
 */
type Need = "read" | "input" | "write" | "admin" | "secret" | "list" | "create";
/** What a caller got: done, nothing (null, as for something unknown), or an error code. */
type Outcome = "ok" | "null" | string;

interface Operation {
  name: string;
  need: Need;
  /** Runs the operation on the target session (named `name`, with a pending waitpoint) and says what came back. */
  run(call: Caller, target: { id: string; name: string; waitpointId: string }): Promise<Outcome>;
}

interface Caller {
  server: TestServer;
  gql: Gql;
  token: string | undefined;
}

const outcome = (r: GraphQLResponse): Outcome => {
  if (r.errors?.length) return codes(r).join(",");
  const value = r.data ? Object.values(r.data)[0] : undefined;
  return value === null ? "null" : "ok";
};
const query = (text: string, vars: (t: { id: string; name: string; waitpointId: string }) => Record<string, unknown>) =>
  (call: Caller, t: { id: string; name: string; waitpointId: string }) => call.gql(text, vars(t)).then(outcome);

const operations: Operation[] = [
  { name: "session", need: "read", run: query(`query($id: ID!) { session(id: $id) { id out { headSeqNum tailSeqNum records { seqNum } } } }`, (t) => ({ id: t.name })) },
  { name: "node", need: "read", run: query(`query($id: ID!) { node(id: $id) { id } }`, (t) => ({ id: t.id })) },
  { name: "waitpoint", need: "read", run: query(`query($id: ID!) { waitpoint(id: $id) { id } }`, (t) => ({ id: t.waitpointId })) },
  { name: "sessions", need: "list", run: query(`{ sessions { totalCount } }`, () => ({})) },
  { name: "sessionTags", need: "list", run: query(`{ sessionTags }`, () => ({})) },
  { name: "initializeSessionChannel", need: "read", run: query(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { stream } }`, (t) => ({ id: t.name })) },
  { name: "appendToSession", need: "input", run: query(`mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: 1 }]) { lastSeqNum } }`, (t) => ({ id: t.name })) },
  // `out` is the agent's: a chat page's input scope must not forge its replies there.
  { name: "appendToSession OUT", need: "write", run: query(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }]) { lastSeqNum } }`, (t) => ({ id: t.name })) },
  { name: "createSessionWaitpoint", need: "write", run: query(`mutation($id: ID!) { createSessionWaitpoint(input: { session: $id }) { isCached } }`, (t) => ({ id: t.name })) },
  { name: "createSession", need: "create", run: query(`mutation($e: String!) { createSession(input: { type: "chat", externalId: $e }) { isCached } }`, (t) => ({ e: t.name })) },
  { name: "updateSession", need: "admin", run: query(`mutation($id: ID!) { updateSession(id: $id, input: { tags: ["t"] }) { id } }`, (t) => ({ id: t.name })) },
  { name: "closeSession", need: "admin", run: query(`mutation($id: ID!) { closeSession(id: $id) { id } }`, (t) => ({ id: t.name })) },
  {
    name: "deleteSession",
    need: "admin",
    // Idempotent: a delete that matched nothing answers deleted: false, which must not pass for one that did.
    run: (call, t) =>
      call.gql(`mutation($id: ID!) { deleteSession(id: $id) { deleted } }`, { id: t.name }).then((r) =>
        r.data?.deleteSession?.deleted === false ? "nothing deleted" : outcome(r),
      ),
  },
  { name: "trimSessionChannel", need: "write", run: query(`mutation($id: ID!) { trimSessionChannel(id: $id, io: IN, beforeSeqNum: 1) { headSeqNum } }`, (t) => ({ id: t.name })) },
  {
    // A callback is a signed POST to a URL of the caller's choosing: agents (secret keys) only.
    name: "createSessionWaitpoint with callbackUrl",
    need: "secret",
    run: query(`mutation($id: ID!, $url: String!) { createSessionWaitpoint(input: { session: $id, callbackUrl: $url }) { isCached } }`, (t) => ({
      id: t.name,
      url: "http://127.0.0.1:9/never-called",
    })),
  },
  { name: "webhookSigningSecret", need: "secret", run: query(`{ webhookSigningSecret }`, () => ({})) },
  { name: "createPublicAccessToken", need: "secret", run: query(`mutation { createPublicAccessToken(scopes: ["read:all"]) { token } }`, () => ({})) },
  { name: "revokePublicAccessTokens", need: "secret", run: query(`mutation { revokePublicAccessTokens { revokedBefore } }`, () => ({})) },
  ...(["sessionRecords", "sessionChanged", "waitpointChanged"] as const).map(
    (field): Operation => ({
      name: field,
      need: "read",
      async run(call, t) {
        const [text, id] =
          field === "sessionRecords"
            ? [`subscription($id: ID!) { sessionRecords(id: $id, io: IN, fromSeqNum: 0) { seqNum } }`, t.name]
            : field === "sessionChanged"
              ? [`subscription($id: ID!) { sessionChanged(id: $id) { id } }`, t.name]
              : [`subscription($id: ID!) { waitpointChanged(id: $id) { id } }`, t.waitpointId];
        const sub = subscribe(call.server, "sse-distinct", call.token ?? "", text, { id });
        const first = await Promise.race([sub.waitFor(1).then(() => "ok" as const), sub.done.then(() => "ended" as const)]);
        sub.stop();
        if (first === "ok") return "ok";
        return sub.errors.map(errorCode).join(",");
      },
    }),
  ),
];

/** A subscription's error: a GraphQL error's code, or the HTTP status graphql-sse's client reports. */
function errorCode(error: unknown): string {
  const e = error as { extensions?: { code?: string }; response?: { status?: number }; message?: string };
  if (e.extensions?.code) return e.extensions.code;
  return `HTTP ${e.response?.status ?? e.message}`;
}

/** The kinds of caller; each maps an operation's need to what it must get. */
interface Credential {
  name: string;
  make(target: string): Promise<string | undefined>;
  expect(op: Operation): Outcome;
}

describe("auth matrix", () => {
  let server: TestServer;
  let env: { id: string; secretKey: string; gql: Gql };
  let otherEnv: { id: string; secretKey: string; gql: Gql };
  let n = 0;

  const mint = async (gql: Gql, scopes: string[]) => {
    const r = await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: scopes });
    return r.data!.createPublicAccessToken.token as string;
  };
  /** A token of this environment signed by the test with the environment's own key: any claim it likes. */
  const forged = async (claims: Record<string, unknown>, kid?: string) => {
    const [key] = await server.services.signingKeys.accepted(env.id);
    const now = Date.now() / 1000;
    return new SignJWT({ scopes: ["admin"], sub: env.id, iat: now, exp: Math.floor(now) + 600, ...claims })
      .setProtectedHeader({ alg: "HS256", kid: kid ?? key!.kid })
      .sign(key!.key);
  };
  const unauthenticated = () => "UNAUTHENTICATED";
  /** What a session-scoped token gets for `op`, given the actions it holds on the target. */
  const scoped = (actions: Need[]) => (op: Operation): Outcome => {
    if (op.need === "secret" || op.need === "list") return "FORBIDDEN";
    if (op.need === "create") return actions.includes("input") ? "ok" : "FORBIDDEN";
    if (actions.includes(op.need)) return "ok";
    // Readable but not writable: forbidden. Unreadable: exactly as if it did not exist.
    if (actions.includes("read")) return "FORBIDDEN";
    return { session: "null", node: "null", waitpoint: "null", waitpointChanged: "NOT_FOUND" }[op.name] ?? "FORBIDDEN";
  };

  const credentials: Credential[] = [
    { name: "no token", make: async () => undefined, expect: unauthenticated },
    { name: "read", make: (t) => mint(env.gql, [`read:sessions:${t}`]), expect: scoped(["read"]) },
    { name: "input", make: (t) => mint(env.gql, [`input:sessions:${t}`]), expect: scoped(["read", "input"]) },
    { name: "write", make: (t) => mint(env.gql, [`write:sessions:${t}`]), expect: scoped(["read", "input", "write"]) },
    { name: "admin", make: (t) => mint(env.gql, [`admin:sessions:${t}`]), expect: scoped(["read", "input", "write", "admin"]) },
    { name: "other session", make: () => mint(env.gql, ["admin:sessions:someone-else"]), expect: scoped([]) },
    {
      name: "other environment",
      make: () => mint(otherEnv.gql, ["admin"]),
      // Everything it may do happens in its own environment, where the target does not exist.
      expect: (op) =>
        ({ secret: "FORBIDDEN", list: "ok", create: "ok" })[op.need as string] ??
        ({ session: "null", node: "null", waitpoint: "null", deleteSession: "nothing deleted" })[op.name] ??
        "NOT_FOUND",
    },
    { name: "secret key", make: async () => env.secretKey, expect: () => "ok" },
    { name: "expired", make: () => forged({ iat: Date.now() / 1000 - 120, exp: Math.floor(Date.now() / 1000) - 60 }), expect: unauthenticated },
    { name: "wrong kid", make: () => forged({}, "kid_unknown0000000000000"), expect: unauthenticated },
    { name: "lifetime above the cap", make: () => forged({ exp: Math.floor(Date.now() / 1000) + 31 * 86_400 }), expect: unauthenticated },
    {
      name: "revoked",
      async make(t) {
        const token = await mint(env.gql, [`admin:sessions:${t}`]);
        await env.gql(`mutation { revokePublicAccessTokens { revokedBefore } }`);
        return token;
      },
      expect: unauthenticated,
    },
  ];

  beforeAll(async () => {
    // 127.0.0.1 may be a callback's host here; no waitpoint of this test completes, so none is called.
    server = await startServer("pglite", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1" });
    env = await server.newEnvironment();
    otherEnv = await server.newEnvironment();
  });
  afterAll(() => server?.close());

  it.each(credentials.map((c) => [c.name, c] as const))("%s", async (_name, credential) => {
    const seen: Record<string, Outcome> = {};
    const wanted: Record<string, Outcome> = {};
    for (const op of operations) {
      // A target of its own for every case: mutations change it, createSession must find its name free.
      const name = `target-${++n}`;
      const created = await env.gql(`mutation($e: String!) { createSession(input: { type: "chat", externalId: $e }) { session { id } } }`, { e: name });
      const id = created.data!.createSession.session.id as string;
      // A record on `in`, so a subscription from 0 has a first event to show it is live.
      await env.gql(`mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: 0 }]) { lastSeqNum } }`, { id });
      const waitpointId = (await env.gql(`mutation($id: ID!) { createSessionWaitpoint(input: { session: $id }) { waitpoint { id } } }`, { id })).data!
        .createSessionWaitpoint.waitpoint.id as string;
      const target = op.need === "create" ? { id, name: `${name}-new`, waitpointId } : { id, name, waitpointId };
      const token = await credential.make(target.name);
      seen[op.name] = await op.run({ gql: gqlClient(server.url, token), token, server }, target);
      wanted[op.name] = credential.expect(op);
    }
    expect(seen).toEqual(wanted);
  });
});

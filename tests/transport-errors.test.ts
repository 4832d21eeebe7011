import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { ApiError, errorCodes } from "../src/errors/api-error.js";
import { transports, type Transport } from "./helpers/clients.js";
import { createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** Everything one operation sent back over a real graphql-ws or graphql-sse connection, once it ended. */
interface Outcome {
  /** Errors of `next` results and of a protocol `error` message, flattened. */
  errors: WireError[];
  data: unknown[];
  /** Anything the client saw that is not a GraphQL result (a closed socket, an HTTP refusal). */
  failure?: unknown;
}

interface Operation {
  /** Resolves when the operation has completed or failed. */
  done: Promise<Outcome>;
  /** Resolves once `n` results with data have arrived. */
  received(n: number): Promise<void>;
  stop(): void;
}

function operation(
  server: TestServer,
  transport: Transport,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Operation {
  const outcome: Outcome = { errors: [], data: [] };
  let waiters: (() => boolean)[] = [];
  let finish!: () => void;
  const done = new Promise<Outcome>((resolve) => (finish = () => resolve(outcome)));
  const sink = {
    next(value: { data?: unknown; errors?: readonly WireError[] }) {
      if (value.errors) outcome.errors.push(...value.errors);
      if (value.data) outcome.data.push(value.data);
      waiters = waiters.filter((satisfied) => !satisfied());
    },
    error(error: unknown) {
      // graphql-ws hands a protocol `error` message's payload (GraphQL errors) to the sink as an array.
      if (Array.isArray(error)) outcome.errors.push(...(error as WireError[]));
      else outcome.failure = error;
      finish();
    },
    complete: () => finish(),
  };
  const authorization: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let stop: () => void;
  if (transport === "ws") {
    const client = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: authorization, retryAttempts: 0, lazyCloseTimeout: 0 });
    const unsubscribe = client.subscribe({ query, variables }, sink);
    stop = () => {
      unsubscribe();
      void client.dispose();
    };
  } else {
    const client = createSseClient({
      url: `${server.url}/graphql/stream`,
      headers: { ...authorization, ...headers },
      singleConnection: transport === "sse-single",
      retryAttempts: 0,
    });
    const unsubscribe = client.subscribe({ query, variables }, sink);
    stop = () => {
      unsubscribe();
      client.dispose();
    };
  }
  void done.then(() => stop());
  return {
    done,
    received: (n) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (outcome.data.length >= n ? (resolve(), true) : false);
        if (!check()) waiters.push(check);
        void done.then(() => outcome.data.length < n && reject(new Error(`ended with ${outcome.data.length}/${n} results: ${JSON.stringify(outcome)}`)));
      }),
    stop: () => stop(),
  };
}

/** The single error an operation ended with, checked against the contract's shape. */
function contractError(outcome: Outcome, code: string): WireError {
  expect(outcome.failure, `no GraphQL error arrived: ${String(outcome.failure)}`).toBeUndefined();
  expect(outcome.errors).toHaveLength(1);
  const error = outcome.errors[0]!;
  expect(errorCodes).toContain(error.extensions?.code);
  expect(error.extensions?.code).toBe(code);
  expect(error.extensions?.requestId).toEqual(expect.stringMatching(/^[\w.-]{1,128}$/));
  // yoga's transport detail (the HTTP status it would use) is not part of the contract.
  expect(error.extensions).not.toHaveProperty("http");
  expect(error.message).not.toMatch(/prisma|postgres|SELECT |\bat \/|node_modules|10\.0\.0\.7/i);
  return error;
}

const RECORDS = `subscription($id: ID!, $io: SessionIO!, $from: SeqNum) { sessionRecords(id: $id, io: $io, fromSeqNum: $from) { seqNum data } }`;
const APPEND = `mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: "first" }]) { lastSeqNum } }`;

async function errorCount(server: TestServer, code: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = new RegExp(`^sessions_graphql_errors_total\\{code="${code}"\\} (\\d+)$`, "m").exec(text);
  return line ? Number(line[1]) : 0;
}

describe.each(transports)("the error contract over %s", (transport) => {
  let server: TestServer;
  let gql: Gql;
  let key: string;
  beforeAll(async () => {
    server = await startServer("pglite");
    ({ gql, secretKey: key } = await server.newEnvironment());
  });
  afterAll(() => server?.close());

  /** The code the same refusal has over HTTP: the transports must agree with it. */
  const refusalCode = async (id: string, token: string) => {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }]) { lastSeqNum } }`, variables: { id } }),
    });
    return ((await res.json()) as { errors?: WireError[] }).errors?.[0]?.extensions?.code as string | undefined;
  };

  /** The channel queues handed to subscribers from now on: failing one is what a slow subscriber's overflow does. */
  const captureQueues = () => {
    const queues: { fail(error: unknown): void }[] = [];
    const fanout = server.services.fanout;
    const original = fanout.subscribe.bind(fanout);
    vi.spyOn(fanout, "subscribe").mockImplementation((...args) => {
      const queue = original(...args);
      queues.push(queue as unknown as { fail(error: unknown): void });
      return queue;
    });
    return queues;
  };

  it("a validation error: BAD_USER_INPUT with a request id, with graphql-js's suggestion for an authenticated caller", async () => {
    const known = contractError(await operation(server, transport, key, `{ sessionz { totalCount } }`).done, "BAD_USER_INPUT");
    expect(known.message).toMatch(/^Cannot query field "sessionz" on type "Query"\. Did you mean .*"sessions"/);
  });

  // A WebSocket's connection_init and a "single connection" reservation need a credential before
  // any operation: only a distinct event stream can carry an operation without one.
  if (transport === "sse-distinct") {
    it("a validation error for a caller without credentials: no suggestion", async () => {
      const anonymous = contractError(await operation(server, transport, undefined, `{ sessionz { totalCount } }`).done, "BAD_USER_INPUT");
      expect(anonymous.message).toBe('Cannot query field "sessionz" on type "Query".');
    });

    it("no token: UNAUTHENTICATED with a request id", async () => {
      const id = await createSessionId(gql);
      contractError(await operation(server, transport, undefined, RECORDS, { id, io: "OUT" }).done, "UNAUTHENTICATED");
    });
  }

  it("malformed GraphQL: BAD_USER_INPUT, and the connection stays usable", async () => {
    contractError(await operation(server, transport, key, `subscription { sessionRecords(id: ) `).done, "BAD_USER_INPUT");
    const ok = await operation(server, transport, key, `{ sessions { totalCount } }`).done;
    expect(ok.errors).toEqual([]);
    expect(ok.data).toEqual([{ sessions: { totalCount: expect.any(Number) } }]);
  });

  it("a bad variable: BAD_USER_INPUT with a request id", async () => {
    const id = await createSessionId(gql);
    const error = contractError(await operation(server, transport, key, RECORDS, { id, io: "SIDEWAYS" }).done, "BAD_USER_INPUT");
    expect(error.message).toMatch(/\$io/);
  });

  const mint = async (scopes: string[], expiresIn = "15m") =>
    (await gql(`mutation($s: [String!]!, $e: String) { createPublicAccessToken(scopes: $s, expiresIn: $e) { token } }`, { s: scopes, e: expiresIn })).data!
      .createPublicAccessToken.token as string;

  it("an auth error: a token for another session is refused with a contract code and a request id", async () => {
    const id = await createSessionId(gql);
    const other = await mint(["read:sessions:someone-else"]);
    const error = contractError(await operation(server, transport, other, RECORDS, { id, io: "OUT" }).done, (await refusalCode(id, other))!);
    expect(["FORBIDDEN", "NOT_FOUND"]).toContain(error.extensions!.code);
  });

  it("an auth error in the middle of a stream: the token expires, and the subscription ends UNAUTHENTICATED with a request id", async () => {
    const id = await createSessionId(gql);
    await gql(APPEND, { id });
    const sub = operation(server, transport, await mint([`read:sessions:${id}`], "3s"), RECORDS, { id, io: "OUT", from: 0 });
    await sub.received(1);
    const outcome = await sub.done;
    expect(outcome.data).toHaveLength(1);
    contractError(outcome, "UNAUTHENTICATED");
  });

  it("a RATE_LIMITED raised in the middle of a stream ends it with that code and a request id", async () => {
    const queues = captureQueues();
    const id = await createSessionId(gql);
    await gql(APPEND, { id });
    const sub = operation(server, transport, key, RECORDS, { id, io: "OUT", from: 0 });
    await sub.received(1);
    queues.at(-1)!.fail(new ApiError("RATE_LIMITED", "subscriber too slow"));
    const outcome = await sub.done;
    expect(outcome.data).toHaveLength(1);
    expect(contractError(outcome, "RATE_LIMITED").message).toBe("subscriber too slow");
    vi.restoreAllMocks();
  });

  it("an internal error in the middle of a stream is masked, logged once with its request id, and counted", async () => {
    const queues = captureQueues();
    const logged = vi.spyOn(server.services.logger, "error");
    const before = await errorCount(server, "INTERNAL_SERVER_ERROR");
    const id = await createSessionId(gql);
    await gql(APPEND, { id });
    const sub = operation(server, transport, key, RECORDS, { id, io: "OUT", from: 0 });
    await sub.received(1);
    queues.at(-1)!.fail(new Error("connection to 10.0.0.7:5432 lost; SELECT * FROM records"));
    const error = contractError(await sub.done, "INTERNAL_SERVER_ERROR");
    expect(error.message).toBe("Internal server error");
    const lines = logged.mock.calls.filter(([fields]) => JSON.stringify(fields).includes(String(error.extensions!.requestId)));
    expect(lines).toHaveLength(1);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(await errorCount(server, "INTERNAL_SERVER_ERROR")).toBe(before + 1);
    vi.restoreAllMocks();
  });

  it("counts every error it sends in sessions_graphql_errors_total", async () => {
    const before = await errorCount(server, "BAD_USER_INPUT");
    await operation(server, transport, key, `{ nope }`).done;
    await operation(server, transport, key, `{ alsoNope }`).done;
    expect(await errorCount(server, "BAD_USER_INPUT")).toBe(before + 2);
  });

  it("gives each operation its own request id", async () => {
    const ids = await Promise.all(
      [1, 2].map(async () => contractError(await operation(server, transport, key, `{ nope }`).done, "BAD_USER_INPUT").extensions!.requestId),
    );
    expect(new Set(ids).size).toBe(2);
  });

  if (transport !== "ws") {
    it("takes the request id the client sent with its request", async () => {
      const outcome = await operation(server, transport, key, `{ nope }`, {}, { "x-request-id": `sse-${transport}-1` }).done;
      expect(contractError(outcome, "BAD_USER_INPUT").extensions!.requestId).toBe(`sse-${transport}-1`);
    });
  }
});

describe("the error contract for a body refused before GraphQL", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("pglite");
  });
  afterAll(() => server?.close());

  it("carries the request id and is counted", async () => {
    const before = await errorCount(server, "PAYLOAD_TOO_LARGE");
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "too-big-1" },
      body: JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(5 * 1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errors: WireError[] }).errors).toEqual([
      { message: expect.any(String), extensions: { code: "PAYLOAD_TOO_LARGE", requestId: "too-big-1" } },
    ]);
    expect(await errorCount(server, "PAYLOAD_TOO_LARGE")).toBe(before + 1);
  });
});

// An agent that holds no connection between turns: the service calls it. It waits on the
// session's `in` channel with a waitpoint that has a callbackUrl; when a message lands there, the
// service POSTs the completed waitpoint (Standard Webhooks, signed with the environment's
// webhookSigningSecret) to this plain node:http handler, which verifies the signature, answers on
// `out`, and creates the next waitpoint with the same callback. Serverless functions and queue
// workers do the same with their own HTTP front.
//
// Next to `npm start` (the server must allow this host, as callbacks go to public https
// addresses only by default):
//   CALLBACK_ALLOWED_HOSTS=127.0.0.1 npm start
//   SESSIONS_TOKEN=sk_... npx tsx examples/callback-agent.ts demo-agent
// Then append to its `in` channel, e.g. `{"text": "hello"}`, from GraphiQL or the /chat page's
// session, and read the reply on `out` (`npm run sessions -- tail demo-agent`).
//
// SESSIONS_URL (default http://127.0.0.1:4000), CALLBACK_PORT (default 4100), CALLBACK_URL (the
// address the service calls, default http://127.0.0.1:<port>/callback; behind a tunnel or a load
// balancer, its public https address).
import { createServer, type IncomingMessage } from "node:http";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const url = process.env.SESSIONS_URL ?? "http://127.0.0.1:4000";
const token = process.env.SESSIONS_TOKEN;
const name = process.argv[2];
if (!token || !name) {
  console.error("usage: SESSIONS_TOKEN=<secret key> [SESSIONS_URL=...] [CALLBACK_PORT=4100] [CALLBACK_URL=...] tsx examples/callback-agent.ts <session name>");
  process.exit(2);
}
const port = Number(process.env.CALLBACK_PORT ?? 4100);
const callbackUrl = process.env.CALLBACK_URL ?? `http://127.0.0.1:${port}/callback`;
/** Bodies above this are refused before reading on: a waitpoint with its record is at most about 1 MiB. */
const MAX_BODY = 2 * 1024 * 1024;

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const { data, errors } = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (errors?.length || !data) throw new Error(errors?.map((e) => e.message).join("; ") ?? `HTTP ${res.status}`);
  return data;
}

/** What a callback body carries (the fields this agent reads). */
interface WaitpointEvent {
  type: "waitpoint.completed" | "waitpoint.timed_out";
  timestamp: string;
  data: { id: string; sessionId: string; afterSeqNum: number; status: string; record: { seqNum: number; data: unknown } | null };
}

/**
 * Waits for the record at `afterSeqNum` on `in`. The idempotency key makes this safe to repeat: a
 * callback delivered twice (delivery is at least once) creates the next waitpoint once.
 */
async function waitFor(sessionId: string, afterSeqNum: number, key: string): Promise<string> {
  const { createSessionWaitpoint } = await gql<{ createSessionWaitpoint: { waitpoint: { status: string } } }>(
    `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { waitpoint { status } } }`,
    { input: { session: sessionId, io: "IN", afterSeqNum, timeout: "1h", idempotencyKey: key, callbackUrl } },
  );
  console.log(`waiting for in#${afterSeqNum}`);
  return createSessionWaitpoint.waitpoint.status;
}

const textOf = (data: unknown) =>
  typeof data === "string" ? data : typeof data === "object" && data !== null && "text" in data ? String((data as { text: unknown }).text) : JSON.stringify(data);

/** One turn: the reply goes to `out` under a key derived from the event, so a redelivery does not answer twice. */
async function handle(event: WaitpointEvent, webhookId: string) {
  const { sessionId, afterSeqNum, record } = event.data;
  if (event.type === "waitpoint.timed_out" || !record) {
    // Nobody wrote for an hour: keep waiting for the same record.
    await waitFor(sessionId, afterSeqNum, `wait-${afterSeqNum}-${webhookId}`);
    return;
  }
  const said = textOf(record.data);
  console.log(`< ${said}`);
  await gql(
    `mutation($id: ID!, $records: [AppendRecordInput!]!, $key: String) { appendToSession(id: $id, io: OUT, records: $records, idempotencyKey: $key) { lastSeqNum } }`,
    { id: sessionId, records: [{ data: { text: `You said: ${said}`, inReplyTo: record.seqNum } }], key: `reply-${webhookId}` },
  );
  console.log(`> reply to in#${record.seqNum}`);
  await waitFor(sessionId, record.seqNum + 1, `wait-${record.seqNum + 1}`);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      }
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

const secret = (await gql<{ webhookSigningSecret: string }>(`{ webhookSigningSecret }`)).webhookSigningSecret;
const webhook = new Webhook(secret);

const server = createServer(async (req, res) => {
  if (req.method !== "POST" || req.url !== new URL(callbackUrl).pathname) return void res.writeHead(404).end();
  const body = await readBody(req);
  if (body === undefined) return void res.writeHead(413).end();
  let event: WaitpointEvent;
  try {
    // Checks the signature (any of the service's current secrets) and that the timestamp is fresh.
    event = webhook.verify(body, req.headers as Record<string, string>) as WaitpointEvent;
  } catch (error) {
    console.log(`refused a callback: ${error instanceof Error ? error.message : error}`);
    return void res.writeHead(error instanceof WebhookVerificationError ? 401 : 400).end();
  }
  try {
    await handle(event, String(req.headers["webhook-id"]));
    // Answered after the work: had this process died before, the service would call again.
    res.writeHead(204).end();
  } catch (error) {
    console.error(`turn failed (the service will call again): ${error instanceof Error ? error.message : error}`);
    res.writeHead(500).end();
  }
});
await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
console.log(`callbacks on ${callbackUrl}`);

// The session (created once, by name) and the first waitpoint: the next record on `in`.
const { createSession } = await gql<{ createSession: { session: { id: string; in: { tailSeqNum: number } } } }>(
  `mutation($name: String!) { createSession(input: { type: "agent", externalId: $name }) { session { id in { tailSeqNum } } } }`,
  { name },
);
const { id, in: inChannel } = createSession.session;
// After a restart this finds the waitpoint an earlier run made for the same record (its callback
// may be on its way); only one that timed out meanwhile is replaced.
if ((await waitFor(id, inChannel.tailSeqNum, `wait-${inChannel.tailSeqNum}`)) === "TIMED_OUT") {
  await waitFor(id, inChannel.tailSeqNum, `wait-${inChannel.tailSeqNum}-${Date.now()}`);
}

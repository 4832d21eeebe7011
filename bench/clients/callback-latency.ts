// Completion → callback, from a process of its own: a node:http receiver for the callbacks, and
// the appends that complete the waitpoints. Each round creates a waitpoint with a callback to the
// receiver, appends the record it waits for, and times the POST's arrival from the append being
// sent (this process's clock) and from the waitpoint's completedAt (the server's clock, same
// machine, millisecond resolution).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { clientInput, clientResult } from "../load-process.js";
import { summarize } from "../stats.js";

const input = clientInput<{ url: string; key: string; rounds: number; warmup: number }>();

async function gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${input.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${input.key}` },
    body: JSON.stringify({ query, variables }),
  });
  const { data, errors } = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!data || errors) throw new Error(JSON.stringify(errors));
  return data;
}

const arrivals = new Map<string, (at: { perf: number; wall: number; completedAt: string }) => void>();
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk));
  req.on("end", () => {
    const perf = performance.now();
    const wall = Date.now();
    res.writeHead(204).end();
    const { data } = JSON.parse(body) as { data: { id: string; completedAt: string } };
    arrivals.get(data.id)?.({ perf, wall, completedAt: data.completedAt });
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callback`;

const { createSession } = await gql<{ createSession: { session: { id: string } } }>(`mutation { createSession(input: { type: "bench" }) { session { id } } }`, {});
const session = createSession.session.id;
const fromAppend: number[] = [];
const fromCompletion: number[] = [];
for (let round = 0; round < input.warmup + input.rounds; round++) {
  const { createSessionWaitpoint } = await gql<{ createSessionWaitpoint: { waitpoint: { id: string } } }>(
    `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { waitpoint { id } } }`,
    { input: { session, io: "IN", callbackUrl } },
  );
  const arrived = new Promise<{ perf: number; wall: number; completedAt: string }>((resolve) => arrivals.set(createSessionWaitpoint.waitpoint.id, resolve));
  const sent = performance.now();
  await gql(`mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "wake" }]) { lastSeqNum } }`, { id: session });
  const at = await arrived;
  if (round < input.warmup) continue;
  fromAppend.push(at.perf - sent);
  fromCompletion.push(at.wall - Date.parse(at.completedAt));
}
receiver.close();
clientResult({ fromAppend: summarize(fromAppend), fromCompletion: summarize(fromCompletion) });
process.exit(0);

// Append mutations as fast as the server takes them, from a process of its own, with autocannon:
// `connections` keep-alive connections, each request to the next of `ids` in turn.
import autocannon from "autocannon";
import { clientInput, clientResult } from "../load-process.js";

const input = clientInput<{ url: string; key: string; ids: string[]; seconds: number; connections: number; recordsPerAppend: number }>();
const APPEND = `mutation($id: ID!, $r: [AppendRecordInput!]!) { appendToSession(id: $id, io: OUT, records: $r) { lastSeqNum } }`;
const records = Array.from({ length: input.recordsPerAppend }, (_, i) => ({ data: { n: i, text: "a token of a streamed reply" } }));
let next = 0;
const result = await autocannon({
  url: `${input.url}/graphql`,
  method: "POST",
  connections: input.connections,
  duration: input.seconds,
  headers: { "content-type": "application/json", authorization: `Bearer ${input.key}` },
  requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ query: APPEND, variables: { id: input.ids[next++ % input.ids.length], r: records } }) }) }],
});
// autocannon counts a 200 carrying GraphQL errors as a success; the caller checks the channels' tails.
clientResult({ requestsPerSec: result.requests.average, total: result.requests.total, non2xx: result.non2xx, errors: result.errors, p50Ms: result.latency.p50, p99Ms: result.latency.p99 });

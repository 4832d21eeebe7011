// The dashboard's list query, one request at a time, timed from a process of its own.
import { gqlClient } from "../../tests/helpers/test-server.js";
import { clientInput, clientResult } from "../load-process.js";
import { summarize, time } from "../stats.js";

const input = clientInput<{ url: string; key: string; query: string; variables: Record<string, unknown>; requests: number; warmUp: number }>();
const gql = gqlClient(input.url, input.key);
const samples: number[] = [];
for (let i = 0; i < input.warmUp + input.requests; i++) {
  const [ms, r] = await time(() => gql(input.query, input.variables));
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  if (i >= input.warmUp) samples.push(ms);
}
clientResult(summarize(samples));

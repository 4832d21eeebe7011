// Reconnect → first missed record, from a process of its own: appends `missed` records while away,
// then subscribes from where it stopped and times the first of them.
import { SessionsClient } from "../../client/src/sessions-client.js";
import { AppendToSessionDocument, CreateSessionDocument, SessionRecordsDocument } from "../../client/generated/graphql.js";
import { clientInput, clientResult } from "../load-process.js";
import { summarize } from "../stats.js";

const input = clientInput<{ url: string; key: string; rounds: number; missed: number }>();
const client = new SessionsClient({ url: input.url, token: input.key });
const id = (await client.request(CreateSessionDocument, { input: { type: "resume" } })).createSession.session.id;
const samples: number[] = [];
let next = 0;
for (let round = 0; round < input.rounds; round++) {
  await client.request(AppendToSessionDocument, { id, io: "OUT", records: Array.from({ length: input.missed }, (_, i) => ({ data: i })) });
  const started = performance.now();
  const stop = new AbortController();
  const first = next;
  for await (const { sessionRecords } of client.subscribe(SessionRecordsDocument, { id, io: "OUT", fromSeqNum: next }, stop.signal)) {
    if (sessionRecords.seqNum === first) samples.push(performance.now() - started);
    next = sessionRecords.seqNum + 1;
    if (next % input.missed === 0) stop.abort();
  }
}
await client.close();
clientResult(summarize(samples));
process.exit(0);

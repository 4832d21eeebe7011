import { SessionsClient } from "../client/src/sessions-client.js";
import { AppendToSessionDocument, CreateSessionDocument, SessionRecordsDocument } from "../client/generated/graphql.js";
import { startServer } from "../tests/helpers/test-server.js";
import { progress, summarize } from "./stats.js";

/** Reconnect → first missed record delivered, after `missed` records landed while away. */
export async function resumeCost(opts: { rounds: number; missed: number }) {
  const server = await startServer("postgres");
  try {
    const { secretKey } = await server.newEnvironment();
    const client = new SessionsClient({ url: server.url, token: secretKey });
    const id = (await client.request(CreateSessionDocument, { input: { type: "resume" } })).createSession.session.id;
    progress(`resume: ${opts.rounds} reconnects, ${opts.missed} records missed each time`);
    const samples: number[] = [];
    let next = 0;
    for (let round = 0; round < opts.rounds; round++) {
      await client.request(AppendToSessionDocument, { id, io: "OUT", records: Array.from({ length: opts.missed }, (_, i) => ({ data: i })) });
      const started = performance.now();
      const stop = new AbortController();
      const first = next;
      for await (const { sessionRecords } of client.subscribe(SessionRecordsDocument, { id, io: "OUT", fromSeqNum: next }, stop.signal)) {
        if (sessionRecords.seqNum === first) samples.push(performance.now() - started);
        next = sessionRecords.seqNum + 1;
        if (next % opts.missed === 0) stop.abort();
      }
    }
    await client.close();
    return summarize(samples);
  } finally {
    await server.close();
  }
}

// An agent task's loop: wait on the session's `in` channel, read the message, stream a reply to
// `out` record by record, wait again. Run next to `npm start`:
//   SESSIONS_TOKEN=sk_... npx tsx examples/worker.ts chat-1
import { SessionsClient } from "../client/src/sessions-client.js";
import { AppendToSessionDocument, CreateSessionDocument, CreateWaitpointDocument, WaitpointChangedDocument } from "../client/generated/graphql.js";

const url = process.env.SESSIONS_URL ?? "http://127.0.0.1:4000";
const token = process.env.SESSIONS_TOKEN;
const sessionRef = process.argv[2];
if (!token || !sessionRef) {
  console.error("usage: SESSIONS_TOKEN=<key> [SESSIONS_URL=...] tsx examples/worker.ts <session id or externalId>");
  process.exit(2);
}

const client = new SessionsClient({ url, token });
const { createSession } = await client.request(CreateSessionDocument, { input: { type: "chat", externalId: sessionRef.startsWith("session_") ? undefined : sessionRef } });
const id = createSession.session.id;
console.log(`worker on ${id}`);

let after: number | undefined;
for (;;) {
  // One waitpoint per turn; its key makes a restarted worker pick up the same one.
  const { createSessionWaitpoint } = await client.request(CreateWaitpointDocument, {
    input: { session: id, io: "IN", afterSeqNum: after, timeout: "1h", idempotencyKey: `turn-${after ?? "start"}` },
  });
  let waitpoint = createSessionWaitpoint.waitpoint;
  if (waitpoint.status === "PENDING") {
    for await (const { waitpointChanged } of client.subscribe(WaitpointChangedDocument, { id: waitpoint.id })) {
      if (waitpointChanged.status !== "PENDING") waitpoint = { ...waitpoint, ...waitpointChanged };
    }
  }
  if (waitpoint.status !== "COMPLETED" || !waitpoint.record) {
    console.log(`waitpoint ${waitpoint.status.toLowerCase()}; waiting again`);
    continue;
  }
  const message = waitpoint.record.data as { text?: unknown };
  after = waitpoint.record.seqNum + 1;
  const text = typeof message?.text === "string" ? message.text : JSON.stringify(message);
  console.log(`< ${text}`);
  // A stand-in for a model's streamed answer: one record per word, then an end marker.
  const words = `You said: ${text}`.split(" ");
  for (const [i, word] of words.entries()) {
    await client.request(AppendToSessionDocument, {
      id,
      io: "OUT",
      records: [{ data: { type: "token", replyTo: after - 1, text: i === 0 ? word : ` ${word}` } }],
      idempotencyKey: `reply-${after}-${i}`,
    });
  }
  await client.request(AppendToSessionDocument, { id, io: "OUT", records: [{ data: { type: "end", replyTo: after - 1 } }], idempotencyKey: `reply-${after}-end` });
  console.log(`> ${words.join(" ")}`);
}

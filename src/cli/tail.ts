import { SessionsClient } from "../../client/src/sessions-client.js";

/**
 * `sessions tail <session> [--in] [--from N]`: prints a channel's records as JSON lines, live,
 * resuming after disconnects, until the session is closed; records trimmed meanwhile are named on
 * stderr and skipped. SESSIONS_URL, SESSIONS_TOKEN.
 */
export async function tail(args: string[]): Promise<number> {
  const ref = args.find((a) => !a.startsWith("--"));
  const token = process.env.SESSIONS_TOKEN;
  if (!ref || !token) {
    console.error("usage: SESSIONS_TOKEN=<key> [SESSIONS_URL=http://127.0.0.1:4000] sessions tail <session id or externalId> [--in] [--from N]");
    return 2;
  }
  const fromIndex = args.indexOf("--from");
  const fromSeqNum = fromIndex >= 0 ? Number(args[fromIndex + 1]) : 0;
  if (!Number.isSafeInteger(fromSeqNum) || fromSeqNum < 0) {
    console.error("--from takes a seqNum (0 or more)");
    return 2;
  }
  const client = new SessionsClient({ url: process.env.SESSIONS_URL ?? "http://127.0.0.1:4000", token });
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  try {
    const records = client.follow(ref, args.includes("--in") ? "IN" : "OUT", {
      fromSeqNum,
      signal: stop.signal,
      onReconnect: (error) => console.error(`reconnecting: ${error instanceof Error ? error.message : String(error)}`),
      // Trimmed records are gone: said on stderr, and the tail goes on from where the channel starts.
      onTrimmed: ({ fromSeqNum: from, headSeqNum }) => console.error(`records ${from} to ${headSeqNum - 1} were trimmed; following from ${headSeqNum}`),
    });
    for await (const record of records) console.log(JSON.stringify(record));
    return 0;
  } finally {
    await client.close();
  }
}

import { createSessionId, startServer } from "../tests/helpers/test-server.js";
import { runClient } from "./load-process.js";
import { progress } from "./stats.js";

interface LoadResult {
  requestsPerSec: number;
  total: number;
  non2xx: number;
  errors: number;
}

/**
 * Appends per second through GraphQL (single-record mutations, and batches of 100), driven by
 * autocannon from its own process, against the same appends made by calling the channel writer
 * in the server's process: the cost of the GraphQL and HTTP layers.
 */
export async function appendThroughput(opts: { seconds: number; concurrency: number }) {
  const server = await startServer("postgres");
  try {
    const { gql, secretKey, id: environmentId } = await server.newEnvironment();
    const ids: string[] = [];
    for (let i = 0; i < opts.concurrency; i++) ids.push(await createSessionId(gql, "t"));
    const tails = async () => {
      let sum = 0;
      for (const sessionId of ids) sum += await server.services.store.tail({ sessionId, io: "OUT" });
      return sum;
    };
    const viaGraphql = async (recordsPerAppend: number) => {
      const rates: number[] = [];
      // This machine's figures vary by a quarter from one run to the next: the median of three.
      for (let run = 1; run <= 3; run++) {
        progress(`throughput: GraphQL, ${recordsPerAppend} record(s) per append, ${opts.concurrency} connections, ${opts.seconds}s, run ${run}/3`);
        const before = await tails();
        const r = await runClient<LoadResult>("append-load", { url: server.url, key: secretKey, ids, seconds: opts.seconds, connections: opts.concurrency, recordsPerAppend });
        const appended = (await tails()) - before;
        // Every answered request must have appended: a GraphQL error still answers 200.
        if (r.non2xx || r.errors || appended < r.total * recordsPerAppend) throw new Error(`appends failed: ${JSON.stringify(r)}, ${appended} records stored`);
        rates.push(r.requestsPerSec);
      }
      return rates.sort((a, b) => a - b)[1]!;
    };
    const direct = async (recordsPerAppend: number) => {
      progress(`throughput: store directly, ${recordsPerAppend} record(s) per append, ${opts.concurrency} concurrent writers, ${opts.seconds}s`);
      const records = Array.from({ length: recordsPerAppend }, (_, n) => ({ n, text: "a token of a streamed reply" }));
      let calls = 0;
      const end = performance.now() + opts.seconds * 1000;
      await Promise.all(
        ids.map(async (ref) => {
          while (performance.now() < end) {
            await server.services.writer.append({ environmentId, ref }, "OUT", records);
            calls++;
          }
        }),
      );
      return calls / opts.seconds;
    };
    // A first short run warms up the server's JIT and connection pool; its figures are dropped.
    await runClient<LoadResult>("append-load", { url: server.url, key: secretKey, ids, seconds: 3, connections: opts.concurrency, recordsPerAppend: 1 });
    const rows = [];
    for (const recordsPerAppend of [1, 100]) {
      const graphql = await viaGraphql(recordsPerAppend);
      const store = await direct(recordsPerAppend);
      rows.push(
        { path: "GraphQL", recordsPerAppend, appendsPerSec: Math.round(graphql), recordsPerSec: Math.round(graphql * recordsPerAppend), "vs direct": graphql / store },
        { path: "direct", recordsPerAppend, appendsPerSec: Math.round(store), recordsPerSec: Math.round(store * recordsPerAppend), "vs direct": 1 },
      );
    }
    return rows;
  } finally {
    await server.close();
  }
}

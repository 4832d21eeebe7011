import { createSessionId, startServer } from "../tests/helpers/test-server.js";
import { progress } from "./stats.js";

/**
 * Appends per second through GraphQL (single-record mutations, and batches of 100) against the
 * same appends made by calling the channel writer directly: the GraphQL layer's overhead.
 */
export async function appendThroughput(opts: { seconds: number; concurrency: number }) {
  const server = await startServer("postgres");
  try {
    const { gql, id: environmentId } = await server.newEnvironment();
    const ids: string[] = [];
    for (let i = 0; i < opts.concurrency; i++) ids.push(await createSessionId(gql, "t"));
    const APPEND = `mutation($id: ID!, $r: [AppendRecordInput!]!) { appendToSession(id: $id, io: OUT, records: $r) { lastSeqNum } }`;
    const run = async (label: string, batch: number, op: (k: number, records: unknown[]) => Promise<void>) => {
      progress(`throughput: ${label}, ${opts.concurrency} concurrent writers, ${opts.seconds}s`);
      const records = Array.from({ length: batch }, (_, i) => ({ n: i, text: "a token of a streamed reply" }));
      let calls = 0;
      const end = performance.now() + opts.seconds * 1000;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async (_, k) => {
          while (performance.now() < end) {
            await op(k, records);
            calls++;
          }
        }),
      );
      return { calls: calls / opts.seconds, records: (calls * batch) / opts.seconds };
    };
    const viaGraphql = (k: number, records: unknown[]) =>
      gql(APPEND, { id: ids[k]!, r: records.map((data) => ({ data })) }).then((r) => {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
      });
    const direct = (k: number, records: unknown[]) =>
      server.services.writer.append({ environmentId, ref: ids[k]! }, "OUT", records).then(() => {});
    const single = await run("GraphQL, 1 record per append", 1, viaGraphql);
    const singleDirect = await run("store directly, 1 record per append", 1, direct);
    const batched = await run("GraphQL, 100 records per append", 100, viaGraphql);
    const batchedDirect = await run("store directly, 100 records per append", 100, direct);
    return [
      { path: "GraphQL", recordsPerAppend: 1, appendsPerSec: Math.round(single.calls), recordsPerSec: Math.round(single.records), "vs direct": single.calls / singleDirect.calls },
      { path: "direct", recordsPerAppend: 1, appendsPerSec: Math.round(singleDirect.calls), recordsPerSec: Math.round(singleDirect.records), "vs direct": 1 },
      { path: "GraphQL", recordsPerAppend: 100, appendsPerSec: Math.round(batched.calls), recordsPerSec: Math.round(batched.records), "vs direct": batched.calls / batchedDirect.calls },
      { path: "direct", recordsPerAppend: 100, appendsPerSec: Math.round(batchedDirect.calls), recordsPerSec: Math.round(batchedDirect.records), "vs direct": 1 },
    ];
  } finally {
    await server.close();
  }
}

import { createSchema, createYoga } from "graphql-yoga";
import { describe, expect, it, vi } from "vitest";
import { sharedResults, sharedSubscriptionResults } from "../src/graphql/plugins/shared-results.js";

/** A source that hands the same event objects to every subscriber, as a channel's follower does. */
function broadcast() {
  const sinks = new Set<(event: object) => void>();
  return {
    async *subscribe() {
      const queue: object[] = [];
      let wake: (() => void) | undefined;
      const sink = (event: object) => (queue.push(event), wake?.());
      sinks.add(sink);
      try {
        while (true) {
          while (queue.length) yield queue.shift()!;
          await new Promise<void>((r) => (wake = r));
        }
      } finally {
        sinks.delete(sink);
      }
    },
    send: (event: object) => sinks.forEach((s) => s(event)),
    get subscribers() {
      return sinks.size;
    },
  };
}

describe("shared subscription results", () => {
  it("executes each event once per selection for all subscribers of a marked field, whatever its own arguments, and per subscriber otherwise", async () => {
    const source = broadcast();
    const calls = { n: 0, scaled: 0, own: 0 };
    type Info = { path: { prev?: { key: string | number } } };
    const rootOf = (info: Info) => info.path.prev!.key;
    const schema = createSchema({
      typeDefs: `type Query { x: Int } type Event { n: Int! scaled(by: Int!): Int! } type Subscription { shared(k: Int): Event! own: Event! }`,
      resolvers: {
        Event: {
          n: (e: { n: number }, _: unknown, __: unknown, info: Info) => (rootOf(info) === "own" ? calls.own++ : calls.n++, e.n),
          scaled: (e: { n: number }, args: { by: number }) => (calls.scaled++, e.n * args.by),
        },
        Subscription: {
          shared: { subscribe: () => source.subscribe(), resolve: (e: unknown) => e, extensions: sharedResults },
          own: { subscribe: () => source.subscribe(), resolve: (e: unknown) => e },
        },
      },
    });
    let delivered = 0;
    const yoga = createYoga({ schema, plugins: [sharedSubscriptionResults(() => delivered++)] });
    const open = async (query: string, variables: Record<string, unknown> = {}) => {
      const { parse, subscribe, contextFactory, schema } = yoga.getEnveloped({});
      const result = await subscribe({ schema, document: parse(query), variableValues: variables, contextValue: await contextFactory() });
      return result as AsyncIterableIterator<unknown>;
    };
    // Five that differ only in the root field's argument (as subscribers that resumed from different
    // seqNums, or named the session differently): one execution.
    const shared = await Promise.all(Array.from({ length: 5 }, (_, k) => open(`subscription($k: Int) { shared(k: $k) { n } }`, { k })));
    // Two whose selection reads a variable: one execution each.
    const scaled = await Promise.all([2, 3].map((by) => open(`subscription($k: Int, $by: Int!) { shared(k: $k) { scaled(by: $by) } }`, { k: 0, by })));
    const own = await Promise.all(Array.from({ length: 5 }, () => open(`subscription { own { n } }`)));
    const firsts = [...shared, ...scaled, ...own].map((it) => it.next());
    // Each subscription reaches its source once its first next() runs: wait for all twelve.
    await vi.waitFor(() => expect(source.subscribers).toBe(12), { timeout: 5_000, interval: 1 });
    source.send({ n: 7 });
    const got = (await Promise.all(firsts)).map((r) => Object.values(Object.values((r.value as { data: Record<string, Record<string, number>> }).data)[0]!)[0]);
    expect(got).toEqual([...Array(5).fill(7), 14, 21, ...Array(5).fill(7)]);
    expect(calls).toEqual({ n: 1, scaled: 2, own: 5 });
    expect(delivered).toBe(7);
    // Leaving ends the subscription at its source.
    await Promise.all([...shared, ...scaled, ...own].map((it) => it.return?.()));
    expect(source.subscribers).toBe(0);
  });
});

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
  it("executes each event once for all subscribers of a marked field, and per subscriber otherwise", async () => {
    const source = broadcast();
    const calls = { shared: 0, own: 0 };
    const schema = createSchema({
      typeDefs: `type Query { x: Int } type Event { n: Int! } type Subscription { shared(k: Int): Event! own: Event! }`,
      resolvers: {
        Event: { n: (e: { n: number }, _: unknown, __: unknown, info: { path: { prev?: { key: string | number } } }) => (calls[info.path.prev!.key as "shared" | "own"]++, e.n) },
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
    const shared = await Promise.all(Array.from({ length: 5 }, () => open(`subscription { shared { n } }`)));
    const otherVariables = await open(`subscription($k: Int) { shared(k: $k) { n } }`, { k: 1 });
    const own = await Promise.all(Array.from({ length: 5 }, () => open(`subscription { own { n } }`)));
    const firsts = [...shared, otherVariables, ...own].map((it) => it.next());
    // Each subscription reaches its source once its first next() runs: wait for all eleven.
    await vi.waitFor(() => expect(source.subscribers).toBe(11), { timeout: 5_000, interval: 1 });
    source.send({ n: 7 });
    const got = (await Promise.all(firsts)).map((r) => Object.values((r.value as { data: Record<string, { n: number }> }).data)[0]!.n);
    expect(got).toEqual(Array(11).fill(7));
    // One execution for the five alike, one for the other variables; own fields run per subscriber.
    expect(calls).toEqual({ shared: 2, own: 5 });
    expect(delivered).toBe(6);
    // Leaving ends the subscription at its source.
    await Promise.all([...shared, otherVariables, ...own].map((it) => it.return?.()));
    expect(source.subscribers).toBe(0);
  });
});

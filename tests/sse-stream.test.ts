import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { eventStream } from "../src/http/graphql-sse.js";

/** graphql-sse's event generator as a response body (src/http/graphql-sse.ts), without a server. */
describe("event stream body", () => {
  async function* failing(): AsyncGenerator<string, void, undefined> {
    yield "event: next\ndata: {}\n\n";
    throw new Error("the operation's results failed");
  }

  it("ends after a failed stream's last event, tells of the failure and emits no error", async () => {
    const failures: unknown[] = [];
    const stream = eventStream(failing(), new AbortController().signal, (error) => failures.push(error));
    const errors: unknown[] = [];
    stream.on("error", (error) => errors.push(error));
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk as string);
    expect(chunks).toEqual(["event: next\ndata: {}\n\n"]);
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain("the operation's results failed");
    expect(errors).toEqual([]);
  });

  it("tells of operations that fail as the stream ends, on an abort and on a destroy, instead of throwing", async () => {
    const failures: unknown[] = [];
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("unhandledRejection", onUncaught);
    try {
      const events: AsyncGenerator<string, void, undefined> = {
        next: async () => ({ done: false, value: ":\n\n" }),
        return: async () => {
          throw new Error("an operation failed as it ended");
        },
        throw: async (error: unknown) => {
          throw error;
        },
        [Symbol.asyncIterator]: () => events,
      };
      const aborted = new AbortController();
      const stream = eventStream(events, aborted.signal, (error) => failures.push(error));
      const errors: unknown[] = [];
      stream.on("error", (error) => errors.push(error));
      await once(stream, "data");
      aborted.abort();
      stream.destroy();
      await once(stream, "close");
      await expect.poll(() => failures.length).toBe(2);
      expect(errors).toEqual([]);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUncaught);
    }
  });

  it("ends the events when the request is aborted, and when the body is destroyed", async () => {
    for (const how of ["abort", "destroy"] as const) {
      // Like graphql-sse's: waits for events until its `return` ends it.
      let ended = false;
      let wake = () => {};
      let sent = false;
      const events: AsyncGenerator<string, void, undefined> = {
        next: async () => {
          if (!sent) return (sent = true), { done: false, value: ":\n\n" };
          if (!ended) await new Promise<void>((resolve) => (wake = resolve));
          return { done: true, value: undefined };
        },
        return: async () => {
          ended = true;
          wake();
          return { done: true, value: undefined };
        },
        throw: async (error: unknown) => {
          throw error;
        },
        [Symbol.asyncIterator]: () => events,
      };
      const aborted = new AbortController();
      const stream = eventStream(events, aborted.signal, () => {});
      stream.resume();
      await once(stream, "data");
      if (how === "abort") aborted.abort();
      else stream.destroy();
      await expect.poll(() => ended).toBe(true);
      await once(stream, "close");
    }
  });
});

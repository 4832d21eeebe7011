import type { ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ApiError } from "../../errors/index.js";
import type { Limits, RefusalReason } from "../../limits.js";
import type { CountedCaps } from "../../live/index.js";
import { connectionOf, credentialKeyOf, encodedResultData, type Outbox } from "../../live/index.js";
import type { Refusals } from "../../refusals.js";
import type { Context } from "../context.js";

export interface DeliveryLimitsOptions {
  /** The figures in force (services.limits): subscriptionsPerConnection, subscriptionsPerToken, subscriptionsPerSecretKey. */
  limits: Pick<Limits, "subscriptionsPerConnection" | "subscriptionsPerToken" | "subscriptionsPerSecretKey">;
  /** Where refusals are recorded (services.refusals). */
  refusals: Pick<Refusals, "record">;
  /** Open subscriptions per credential; shared with nothing else. */
  caps: CountedCaps;
}

/** What a delivery without a shared encoding (e.g. a `session` tick) is counted as. */
const SMALL_RESULT_BYTES = 256;

/**
 * Caps on open subscriptions (per WebSocket, per credential) and the connection's byte budget on
 * every delivery: each result waits for room in its connection's Outbox before it goes on to
 * graphql-ws or graphql-sse, sized from its shared encoding.
 */
export function deliveryLimits({ limits, refusals, caps }: DeliveryLimitsOptions): Plugin {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as Context;
      const connection = connectionOf(ctx);
      const releases: (() => void)[] = [];
      const refuse = (reason: RefusalReason, client: string, message: string) => {
        for (const release of releases) release();
        refusals.record(reason, client, message);
        setResultAndStopExecution({ data: null, errors: [new ApiError("RATE_LIMITED", message)] });
      };
      if (connection?.kind === "ws") {
        const outbox = connection.outbox;
        const cap = limits.subscriptionsPerConnection;
        if (cap !== null && outbox.subscriptions >= cap) {
          return refuse("subscriptions_per_connection", connection.ip, `at most ${cap} subscriptions per connection`);
        }
        outbox.subscriptions++;
        let released = false;
        releases.push(() => {
          if (!released) outbox.subscriptions--;
          released = true;
        });
      }
      const key = credentialKeyOf(ctx);
      const kind = ctx.auth?.principal?.credential.kind;
      if (key && kind) {
        const cap = kind === "secretKey" ? limits.subscriptionsPerSecretKey : limits.subscriptionsPerToken;
        const release = caps.acquire(`subscriptions:${key}`, cap);
        if (!release) return refuse("subscriptions_per_token", key.slice(0, 12), `at most ${cap} open subscriptions per credential`);
        releases.push(release);
      }
      const end = () => releases.splice(0).forEach((release) => release());
      return {
        onSubscribeResult({ result, setResult }) {
          if (!(Symbol.asyncIterator in result)) return end();
          setResult(budgeted(result, connection?.outbox, end, (error) => {
            if (error instanceof ApiError && error.extensions.code === "RATE_LIMITED") {
              refusals.record("subscriber_buffer", connection?.ip ?? key?.slice(0, 12) ?? "unknown", error.message);
            }
          }));
        },
      };
    },
  };
}

/**
 * The subscription's results, each let through only when its connection has room for it; `end`
 * runs once, however the stream finishes (done, returned, failed). Plain promise chains with
 * handlers made once, not an async function per result: with a thousand subscribers each read
 * waits across several minor GCs, and what it holds is promoted (see the live-access Guard).
 */
function budgeted(
  source: AsyncIterable<ExecutionResult>,
  outbox: Outbox | undefined,
  end: () => void,
  onError: (error: unknown) => void,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const onStep = (step: IteratorResult<ExecutionResult>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
    if (step.done) end();
    else if (outbox) {
      const json = encodedResultData(step.value.data);
      const room = outbox.admit(json === undefined ? SMALL_RESULT_BYTES : json.length);
      if (room) return room.then(() => step);
    }
    return step;
  };
  const onFailure = (error: unknown): never => {
    end();
    onError(error);
    throw error;
  };
  const iterable: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => iterable,
    next() {
      let step: Promise<IteratorResult<ExecutionResult>>;
      try {
        step = iterator.next();
      } catch (error) {
        step = Promise.reject(error);
      }
      return step.then(onStep, onFailure);
    },
    async return(value?: unknown) {
      end();
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      end();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
  return iterable;
}

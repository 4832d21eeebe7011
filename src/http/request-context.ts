import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * The request id of the work in progress, carried through async calls, so that a log line or an
 * error mask deep inside sees which request it belongs to without threading it through.
 */
const storage = new AsyncLocalStorage<{ requestId: string }>();

export const requestIdOf = (req: IncomingMessage) => {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
};

export const withRequestId = <T>(requestId: string, fn: () => T) => storage.run({ requestId }, fn);
export const currentRequestId = () => storage.getStore()?.requestId;

/**
 * `stream` with each of its steps run under `requestId`. graphql-ws pulls a subscription's events
 * from its own message loop, outside the request's context: without this, an error masked while
 * an event is resolved would be logged without its request id.
 */
export function streamWithRequestId<T>(requestId: string, stream: AsyncIterable<T>): AsyncIterableIterator<T> {
  const iterator = stream[Symbol.asyncIterator]();
  const done = { done: true, value: undefined } as const;
  return {
    next: () => withRequestId(requestId, () => iterator.next()),
    return: () => withRequestId(requestId, () => iterator.return?.() ?? Promise.resolve(done)),
    throw: (error: unknown) => withRequestId(requestId, () => iterator.throw?.(error) ?? Promise.reject(error)),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

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

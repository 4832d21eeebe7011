import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import type { TestServer } from "./test-server.js";

export type Transport = "ws" | "sse-distinct" | "sse-single";
export const transports: Transport[] = ["ws", "sse-distinct", "sse-single"];

export interface Received<T> {
  items: T[];
  errors: unknown[];
  done: Promise<void>;
  completed: boolean;
  /** Resolves once `n` items have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  stop(): void;
}

/** Subscribes with a real graphql-ws or graphql-sse client and collects what arrives. */
export function subscribe<T = any>(
  server: Pick<TestServer, "url" | "wsUrl">,
  transport: Transport,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Received<T> {
  const items: T[] = [];
  const errors: unknown[] = [];
  let waiters: (() => boolean)[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const received: Received<T> = {
    items,
    errors,
    done,
    completed: false,
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out with ${items.length}/${n} items; errors: ${JSON.stringify(errors)}`)), timeoutMs);
        const check = () => {
          if (items.length >= n) {
            clearTimeout(timer);
            resolve(items.slice());
            return true;
          }
          return false;
        };
        if (!check()) waiters.push(check);
      });
    },
    stop: () => {},
  };
  const sink = {
    next: (value: { data?: Record<string, T> | null; errors?: unknown[] }) => {
      if (value.errors) errors.push(...value.errors);
      if (value.data) items.push(Object.values(value.data)[0] as T);
      waiters = waiters.filter((satisfied) => !satisfied());
    },
    error: (error: unknown) => {
      errors.push(error);
      finish();
    },
    complete: () => {
      received.completed = true;
      finish();
    },
  };
  if (transport === "ws") {
    const client = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const unsubscribe = client.subscribe({ query, variables }, sink as never);
    received.stop = () => {
      unsubscribe();
      void client.dispose();
    };
    void done.then(() => client.dispose());
  } else {
    const client = createSseClient({
      url: `${server.url}/graphql/stream`,
      headers: { authorization: `Bearer ${token}` },
      singleConnection: transport === "sse-single",
      retryAttempts: 0,
    });
    const unsubscribe = client.subscribe({ query, variables }, sink as never);
    received.stop = () => {
      unsubscribe();
      client.dispose();
    };
    void done.then(() => client.dispose());
  }
  return received;
}

import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type ExecutionResult } from "graphql";
import { createClient as createSseClient, type Client as SseClient } from "graphql-sse";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { SessionRecordsDocument, type SessionIo, type SessionRecordsSubscription } from "../generated/graphql.js";

export type Token = string | (() => string | Promise<string>);

export interface SessionsClientOptions {
  /** Base address of the service, e.g. http://127.0.0.1:4000. */
  url: string;
  /** A secret key or public access token, or a function asked for a fresh one at every (re)connect. */
  token: Token;
  /** "sse" (graphql-sse over fetch; the default) or "ws" (graphql-ws; give webSocketImpl outside browsers). */
  transport?: "sse" | "ws";
  webSocketImpl?: unknown;
}

export class SessionsError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type SessionRecord = SessionRecordsSubscription["sessionRecords"];

/**
 * A small typed client over the documents generated from client/operations: queries and mutations
 * over HTTP, subscriptions over graphql-sse or graphql-ws, and channel following that resumes from
 * the last record it delivered after any disconnect, so callers see each record once, in order.
 */
export class SessionsClient {
  private sse: SseClient | undefined;
  private ws: WsClient | undefined;

  constructor(private options: SessionsClientOptions) {}

  private async bearer() {
    const t = this.options.token;
    return `Bearer ${typeof t === "function" ? await t() : t}`;
  }

  async request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const res = await fetch(`${this.options.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: await this.bearer() },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await res.json()) as ExecutionResult<R>;
    const error = body.errors?.[0];
    if (error) throw new SessionsError(error.message, error.extensions?.code as string | undefined);
    return body.data as R;
  }

  /** Every result of a subscription; ends when the server completes it or `signal` aborts, throws on errors. */
  async *subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, signal?: AbortSignal): AsyncGenerator<R> {
    const payload = { query: print(document), variables };
    const results =
      this.options.transport === "ws"
        ? (this.ws ??= createWsClient({
            url: `${this.options.url.replace(/^http/, "ws")}/graphql`,
            webSocketImpl: this.options.webSocketImpl,
            connectionParams: async () => ({ authorization: await this.bearer() }),
            retryAttempts: 0,
          })).iterate<R>(payload)
        : (this.sse ??= createSseClient({
            url: `${this.options.url}/graphql/stream`,
            headers: async () => ({ authorization: await this.bearer() }),
            retryAttempts: 0,
          })).iterate<R>(payload);
    // Ending the transport's iterator (not this generator, which may be parked in next()) stops at once.
    const stop = () => void results.return?.();
    if (signal?.aborted) return;
    signal?.addEventListener("abort", stop, { once: true });
    try {
      for await (const result of results) {
        const error = result.errors?.[0];
        if (error) throw new SessionsError(error.message, (error as { extensions?: { code?: string } }).extensions?.code);
        if (result.data) yield result.data as R;
      }
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * Follows a channel from fromSeqNum, reconnecting after failures (with back-off) from the record
   * after the last one delivered; ends when the session is closed and everything was delivered,
   * or when `signal` aborts.
   */
  async *follow(id: string, io: SessionIo, opts: { fromSeqNum?: number; signal?: AbortSignal; onReconnect?: (error: unknown) => void } = {}): AsyncGenerator<SessionRecord> {
    let next = opts.fromSeqNum;
    let failures = 0;
    while (!opts.signal?.aborted) {
      try {
        for await (const { sessionRecords } of this.subscribe(SessionRecordsDocument, { id, io, fromSeqNum: next }, opts.signal)) {
          if (next !== undefined && sessionRecords.seqNum < next) continue;
          next = sessionRecords.seqNum + 1;
          failures = 0;
          yield sessionRecords;
          if (opts.signal?.aborted) return;
        }
        return;
      } catch (error) {
        if (error instanceof SessionsError && ["FORBIDDEN", "UNAUTHENTICATED", "NOT_FOUND", "BAD_USER_INPUT"].includes(error.code ?? "")) throw error;
        opts.onReconnect?.(error);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** failures++)));
      }
    }
  }

  async close() {
    this.sse?.dispose();
    await this.ws?.dispose();
  }
}

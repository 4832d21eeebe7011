import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type ExecutionResult } from "graphql";
import { createClient as createSseClient, type Client as SseClient } from "graphql-sse";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { SessionRecordsDocument, type SessionIo, type SessionRecordsSubscription } from "../generated/graphql.js";

/** A credential, or a function asked for one at every (re)connect and again after UNAUTHENTICATED. */
export type Token = string | (() => string | Promise<string>);

export interface SessionsClientOptions {
  /**
   * Base address of the service, e.g. http://127.0.0.1:4000; or several nodes of one deployment.
   * With several, everything goes to the first until a connection to it fails: then to the next
   * (a request only when the node refused the connection, so nothing was sent; follow() after any
   * failure it recovers from), round and round.
   */
  url: string | readonly string[];
  /**
   * A secret key or public access token, or a function asked for a fresh one at every (re)connect.
   * With a function, an UNAUTHENTICATED answer (an expired token) is retried with the token it
   * gives next; with a string it is final.
   */
  token: Token;
  /** "sse" (graphql-sse over fetch; the default) or "ws" (graphql-ws; give webSocketImpl outside browsers). */
  transport?: "sse" | "ws";
  /** The WebSocket class for transport "ws" where there is no global one (Node 20: the `ws` package). Default: the global WebSocket. */
  webSocketImpl?: unknown;
}

export class SessionsError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "SessionsError";
  }

  /** The error a GraphQL error stands for: RecordsTrimmedError for RECORDS_TRIMMED, else a SessionsError with its code. */
  static of(error: { message: string; extensions?: Record<string, unknown> }): SessionsError {
    const code = typeof error.extensions?.code === "string" ? error.extensions.code : undefined;
    const head = error.extensions?.headSeqNum;
    if (code === "RECORDS_TRIMMED" && typeof head === "number") return new RecordsTrimmedError(error.message, head);
    return new SessionsError(error.message, code);
  }
}

/**
 * A read from below the channel's head: the records asked for were trimmed (trimSessionChannel or
 * retention) and will never come. `headSeqNum` is where the channel now starts.
 */
export class RecordsTrimmedError extends SessionsError {
  constructor(
    message: string,
    readonly headSeqNum: number,
  ) {
    super(message, "RECORDS_TRIMMED");
    this.name = "RecordsTrimmedError";
  }
}

/** What follow() skipped when told to go on from the head (see FollowOptions.onTrimmed). */
export interface TrimmedGap {
  /** The first seqNum follow() wanted next. */
  fromSeqNum: number;
  /** Where it goes on: the first seqNum still stored. Records fromSeqNum to headSeqNum - 1 are gone. */
  headSeqNum: number;
}

export interface FollowOptions {
  /** Where to start; default: the channel's tail when following begins (only what comes next). */
  fromSeqNum?: number;
  /** Ends following, at once. */
  signal?: AbortSignal;
  /** Told of each failure that following recovers from by reconnecting. */
  onReconnect?: (error: unknown) => void;
  /**
   * Records follow() wanted were trimmed. Without this option that is final: follow() throws a
   * RecordsTrimmedError. With it, follow() reports the gap here and goes on from the head, so a
   * caller that can live with a shorter history (a dashboard, a log tail) never shows a gap as if
   * nothing were missing. Default: none (throw).
   */
  onTrimmed?: (gap: TrimmedGap) => void;
}

type SessionRecord = SessionRecordsSubscription["sessionRecords"];

/** Errors no retry can mend: following gives up on them at once. */
const FINAL_CODES = ["FORBIDDEN", "UNAUTHENTICATED", "NOT_FOUND", "BAD_USER_INPUT", "RECORDS_TRIMMED"];
/** How many UNAUTHENTICATED answers in a row a function token may mend before the error is final. */
const RENEWALS_IN_A_ROW = 3;

/**
 * A small typed client over the documents generated from client/operations: queries and mutations
 * over HTTP, subscriptions over graphql-sse or graphql-ws, and channel following that resumes from
 * the last record it delivered after any disconnect, so callers see each record once, in order.
 */
export class SessionsClient {
  private sse: SseClient | undefined;
  private ws: WsClient | undefined;
  /** Sockets left to their running operations after their credential expired; disposed by close(). */
  private retired = new Set<WsClient>();

  private readonly urls: readonly string[];
  /** Which of `urls` connections go to now. */
  private at = 0;

  constructor(private options: SessionsClientOptions) {
    this.urls = typeof options.url === "string" ? [options.url] : options.url;
    if (this.urls.length === 0) throw new Error("SessionsClient needs at least one url");
  }

  /** The node connections go to now. */
  get url(): string {
    return this.urls[this.at]!;
  }

  /**
   * Moves on to the next node, if there is another: new requests and subscriptions go there. Open
   * subscriptions on the old transports end as they end (their node is typically gone).
   */
  private failover(from = this.at) {
    // Another caller moved on already (several follows failing at once on one node): once is enough.
    if (this.urls.length < 2 || from !== this.at) return;
    this.at = (this.at + 1) % this.urls.length;
    this.sse?.dispose();
    this.sse = undefined;
    if (this.ws) this.retired.add(this.ws);
    this.ws = undefined;
  }

  /** Whether an UNAUTHENTICATED answer may be retried: only a function can give another token. */
  get renewsToken() {
    return typeof this.options.token === "function";
  }

  private async bearer() {
    const t = this.options.token;
    return `Bearer ${typeof t === "function" ? await t() : t}`;
  }

  async request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    for (let attempt = 0, refused = 0; ; attempt++) {
      const node = this.at;
      try {
        return await this.requestOnce(document, variables);
      } catch (error) {
        // A node that refused the connection never saw the request: the next one may take it.
        if (connectionRefused(error) && ++refused < this.urls.length) {
          this.failover(node);
          continue;
        }
        // An expired token: the function is asked again (bearer) and the request retried.
        if (!(error instanceof SessionsError && error.code === "UNAUTHENTICATED" && this.renewsToken && attempt < RENEWALS_IN_A_ROW - 1)) throw error;
      }
    }
  }

  private async requestOnce<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const res = await fetch(`${this.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: await this.bearer() },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await res.json()) as ExecutionResult<R>;
    const error = body.errors?.[0];
    if (error) throw SessionsError.of(error);
    return body.data as R;
  }

  /** Every result of a subscription; ends when the server completes it or `signal` aborts, throws on errors. */
  async *subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, signal?: AbortSignal): AsyncGenerator<R> {
    const payload = { query: print(document), variables };
    let ws: WsClient | undefined;
    const results =
      this.options.transport === "ws"
        ? (ws = this.ws ??= createWsClient({
            url: `${this.url.replace(/^http/, "ws")}/graphql`,
            webSocketImpl: this.options.webSocketImpl,
            connectionParams: async () => ({ authorization: await this.bearer() }),
            retryAttempts: 0,
          })).iterate<R>(payload)
        : (this.sse ??= createSseClient({
            url: `${this.url}/graphql/stream`,
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
        if (error) {
          const failure = SessionsError.of(error as { message: string; extensions?: Record<string, unknown> });
          const code = failure.code;
          // A graphql-ws socket is authenticated once, when it connects: after its token expired,
          // operations need a new socket (asking the token again). The old one serves what still
          // runs on it and closes with its last operation (graphql-ws is lazy).
          if (code === "UNAUTHENTICATED" && ws && this.ws === ws && this.renewsToken) {
            this.retired.add(ws);
            this.ws = undefined;
          }
          throw failure;
        }
        if (result.data) yield result.data as R;
      }
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * Follows a channel from fromSeqNum, reconnecting after failures (with back-off) from the record
   * after the last one delivered; ends when the session is closed and everything was delivered,
   * or when `signal` aborts. With a token function, an expired token is replaced (the function is
   * asked again) and following goes on; UNAUTHENTICATED is final only when that does not help.
   * Records trimmed before they could be delivered throw a RecordsTrimmedError, or with
   * `onTrimmed`, are reported there and skipped: never skipped silently.
   */
  async *follow(id: string, io: SessionIo, opts: FollowOptions = {}): AsyncGenerator<SessionRecord> {
    let next = opts.fromSeqNum;
    let failures = 0;
    let renewals = 0;
    while (!opts.signal?.aborted) {
      const node = this.at;
      try {
        for await (const { sessionRecords } of this.subscribe(SessionRecordsDocument, { id, io, fromSeqNum: next }, opts.signal)) {
          if (next !== undefined && sessionRecords.seqNum < next) continue;
          next = sessionRecords.seqNum + 1;
          failures = 0;
          renewals = 0;
          yield sessionRecords;
          if (opts.signal?.aborted) return;
        }
        return;
      } catch (error) {
        if (error instanceof RecordsTrimmedError && opts.onTrimmed && next !== undefined && error.headSeqNum > next) {
          opts.onTrimmed({ fromSeqNum: next, headSeqNum: error.headSeqNum });
          next = error.headSeqNum;
          continue;
        }
        const code = error instanceof SessionsError ? (error.code ?? "") : "";
        const renew = code === "UNAUTHENTICATED" && this.renewsToken && renewals++ < RENEWALS_IN_A_ROW;
        if (FINAL_CODES.includes(code) && !renew) throw error;
        if (opts.signal?.aborted) return;
        opts.onReconnect?.(error);
        // The node may be gone: with several, the next one is asked (back-off still applies).
        this.failover(node);
        // A renewal retries at once the first time (the token function decides what is fresh).
        if (!(renew && renewals === 1)) await sleep(Math.min(5_000, 200 * 2 ** failures++), opts.signal);
      }
    }
  }

  async close() {
    this.sse?.dispose();
    await Promise.all([this.ws, ...this.retired].map((ws) => ws?.dispose()));
    this.retired.clear();
  }
}

/** fetch's failure when nothing listens at the address (the node is down): the request was never sent. */
function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } } | null)?.cause;
  return cause?.code === "ECONNREFUSED" || Boolean(cause?.errors?.some((e) => e.code === "ECONNREFUSED"));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

import { createHash } from "node:crypto";
import type { EventEmitter } from "node:events";
import { limits } from "../limits.js";

/** What an outbox needs of a connection: its write buffer, and a way to cut it. */
export interface OutboxTransport {
  /** Bytes written to the connection and not yet handed to the kernel (WebSocket `bufferedAmount`, a response's `writableLength`). */
  buffered(): number;
  /** True while the connection's writer waits for `drain` (its buffer is past the high-water mark). */
  congested(): boolean;
  /** Emits `drain` when the buffer empties and `close` when the connection goes. */
  events: EventEmitter;
  /** Cuts the connection: its reader stopped reading. */
  close(reason: string): void;
}

export interface OutboxOptions {
  /** Bytes the write buffer may hold before deliveries wait for it to drain. Default: limits.connectionBufferBytes (8 MiB). */
  budgetBytes?: number;
  /** A connection with deliveries waiting and no drain for this long is closed. Default: limits.stalledConnectionMs (60 s). */
  stallMs?: number;
  /** Called once when a stalled connection is closed (to record the refusal). Default: nothing. */
  onStalled?: () => void;
}

/**
 * The byte budget of one connection (a WebSocket, an event stream). Every delivery asks for room
 * first: while the connection's write buffer, plus what was let through this turn of the event
 * loop and is still on its way to the socket, is over the budget, deliveries wait for a `drain`.
 * Records meanwhile wait in each subscriber's own bounded queue, which cuts the subscriber off
 * with RATE_LIMITED when it overflows; a connection that does not drain at all is closed. So a
 * reader that stops reading costs at most its budget, however much is written to its channels.
 */
export class Outbox {
  private readonly budget: number;
  private readonly stallMs: number;
  /** Let through this turn: not in the write buffer yet, since GraphQL work sits in between. */
  private turnBytes = 0;
  /**
   * The outboxes that let something through this turn, and the one immediate that starts the
   * next turn for all of them: not one per outbox, since with a thousand sockets on a channel
   * every record would schedule a thousand.
   */
  private static inTurn = new Set<Outbox>();
  private static turnEnd: NodeJS.Immediate | undefined;
  private static endTurn = () => {
    Outbox.turnEnd = undefined;
    // Those that let something through again while these release go in the next turn.
    const outboxes = Outbox.inTurn;
    Outbox.inTurn = new Set();
    for (const outbox of outboxes) {
      outbox.turnBytes = 0;
      outbox.release();
    }
  };
  private waiters: { bytes: number; resolve: () => void }[] = [];
  private stallTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Subscriptions open on this connection (see the subscription caps). */
  subscriptions = 0;

  constructor(
    private transport: OutboxTransport,
    private options: OutboxOptions = {},
  ) {
    this.budget = options.budgetBytes ?? limits.connectionBufferBytes;
    this.stallMs = options.stallMs ?? limits.stalledConnectionMs;
    transport.events.on("drain", this.onDrain);
    transport.events.once("close", () => {
      this.closed = true;
      transport.events.off("drain", this.onDrain);
      clearTimeout(this.stallTimer);
      // Nothing will be written any more: let waiting deliveries go, to end quietly.
      for (const w of this.waiters.splice(0)) w.resolve();
    });
  }

  /** Resolves when `bytes` more may be written (at once: undefined). */
  admit(bytes: number): Promise<void> | undefined {
    if (this.closed || (this.waiters.length === 0 && this.fits(bytes))) {
      this.take(bytes);
      return undefined;
    }
    return new Promise((resolve) => {
      this.waiters.push({ bytes, resolve });
      this.stallTimer ??= setTimeout(this.onStall, this.stallMs);
    });
  }

  private fits(bytes: number) {
    if (this.transport.congested()) return false;
    const pending = this.transport.buffered() + this.turnBytes;
    // An empty connection always takes the next delivery, however large: progress is guaranteed.
    return pending === 0 || pending + bytes <= this.budget;
  }

  private take(bytes: number) {
    this.turnBytes += bytes;
    // By the next turn what was let through is written (in the buffer) or dropped.
    Outbox.inTurn.add(this);
    Outbox.turnEnd ??= setImmediate(Outbox.endTurn);
  }

  private release() {
    while (this.waiters.length > 0 && (this.closed || this.fits(this.waiters[0]!.bytes))) {
      const waiter = this.waiters.shift()!;
      this.take(waiter.bytes);
      waiter.resolve();
    }
    if (this.waiters.length === 0) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
  }

  private onDrain = () => {
    // Progress: the stall clock starts again.
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.release();
    if (this.waiters.length > 0) this.stallTimer = setTimeout(this.onStall, this.stallMs);
  };

  private onStall = () => {
    this.stallTimer = undefined;
    if (this.closed || this.waiters.length === 0) return;
    this.options.onStalled?.();
    this.transport.close(`RATE_LIMITED: the connection did not drain for ${this.stallMs} ms`);
  };
}

/** Who is on the other end of a connection, for the caps counted per credential and per address. */
export interface Connection {
  kind: "ws" | "sse";
  outbox: Outbox;
  /** The client's address. */
  ip: string;
}

/**
 * Kept on the context object itself, under symbols: yoga copies the context a factory returns
 * into its own object (symbols included), so a map keyed by the returned object would miss.
 */
const CONNECTION = Symbol("connection");
const AUTHORIZATION = Symbol("authorization");
type Bound = { [CONNECTION]?: Connection; [AUTHORIZATION]?: string };

/**
 * Ties a GraphQL context to the connection its results go out on, and to the credential it was
 * authenticated with (the caps count per credential). Contexts without one (plain HTTP) get none.
 */
export function bindConnection(context: object, connection: Connection | undefined, authorization: string | undefined) {
  if (connection) (context as Bound)[CONNECTION] = connection;
  if (authorization) (context as Bound)[AUTHORIZATION] = authorization;
}

export const connectionOf = (context: unknown): Connection | undefined =>
  typeof context === "object" && context !== null ? (context as Bound)[CONNECTION] : undefined;

/** A credential's key for counting: a hash, so no credential is kept or logged. */
export const credentialKey = (authorization: string) => createHash("sha256").update(authorization.trim()).digest("hex").slice(0, 32);

export const credentialKeyOf = (context: unknown): string | undefined => {
  const authorization = typeof context === "object" && context !== null ? (context as Bound)[AUTHORIZATION] : undefined;
  return authorization === undefined ? undefined : credentialKey(authorization);
};

import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authenticator } from "../auth/index.js";
import type { ErrorCode } from "../errors/index.js";
import type { Limits } from "../limits.js";
import type { CountedCaps } from "../live/index.js";
import { credentialKey, Outbox, type Connection } from "../live/index.js";
import type { Refusals } from "../refusals.js";

export interface SseGuardOptions {
  /** The figures in force (services.limits). */
  limits: Pick<
    Limits,
    | "connectionsPerIp"
    | "connectionsPerToken"
    | "connectionsPerSecretKey"
    | "sseReservationTtlMs"
    | "sseReservationsPerToken"
    | "sseKeepAliveMs"
    | "connectionBufferBytes"
  >;
  refusals: Pick<Refusals, "record">;
  authenticator: Pick<Authenticator, "authenticate">;
  /** Connection counts per address and per credential, shared with the WebSockets. */
  caps: CountedCaps;
  /**
   * Drops an unused reservation from graphql-sse, which keeps one until its event stream has
   * come and gone: given the token, it connects to the stream and cancels at once.
   */
  dropReservation: (token: string) => Promise<void>;
}

/** graphql-sse's reservation token, in a header or the query string. */
const TOKEN_HEADER = "x-graphql-event-stream-token";

type HandlerResponse = [string | null, { status: number; statusText: string; headers?: Record<string, string> }];

const refusal = (status: number, statusText: string, code: ErrorCode, message: string): HandlerResponse => [
  JSON.stringify({ errors: [{ message, extensions: { code } }] }),
  { status, statusText, headers: { "content-type": "application/json; charset=utf-8" } },
];

interface Reservation {
  key: string;
  releaseCount: () => void;
  expiry: NodeJS.Timeout | undefined;
  /** The reservation's event stream, once connected; before, deliveries wait. */
  connection: Connection;
  events: EventEmitter;
  res: ServerResponse | undefined;
}

interface Stream {
  connection: Connection;
  res: ServerResponse;
  released: (() => void)[];
}

/**
 * The limits of the graphql-sse transport: reservations (`PUT`) need a credential, get tokens from
 * crypto.randomUUID (never the client's), are capped per credential and dropped when not
 * connected in time; event streams are counted per address (per credential, through the
 * subscriptions each carries), get TCP
 * keep-alives (graphql-sse writes a comment every 12 s too), and each has a byte budget over its
 * response's write buffer (see Outbox).
 */
export function guardEventStreams(options: SseGuardOptions) {
  const reservations = new Map<string, Reservation>();
  /** Open event streams by their response (yoga's server context carries it to the GraphQL context). */
  const streams = new WeakMap<ServerResponse, Stream>();
  /** Expired reservations being dropped: their token passes `authenticate` for that. */
  const dropping = new Set<string>();

  const tokenOf = (url: string | undefined, header: string | null | undefined) =>
    header ?? new URL(url ?? "", "http://localhost/").searchParams.get("token") ?? undefined;

  function responseTransport(res: ServerResponse, events: EventEmitter) {
    res.on("drain", () => events.emit("drain"));
    res.once("close", () => events.emit("close"));
  }

  function reserve(key: string): Reservation {
    const events = new EventEmitter();
    const reservation: Reservation = {
      key,
      releaseCount: () => {},
      expiry: undefined,
      events,
      res: undefined,
      connection: {
        kind: "sse",
        ip: "",
        outbox: new Outbox({
          buffered: () => reservation.res?.writableLength ?? 0,
          // Nowhere to write yet: results for an unconnected reservation wait, they do not pile up.
          congested: () => !reservation.res || reservation.res.writableNeedDrain,
          events,
          close: () => reservation.res?.destroy(),
        }, { budgetBytes: options.limits.connectionBufferBytes }),
      },
    };
    return reservation;
  }

  return {
    /**
     * Called for every request to the SSE path before yoga sees it; answers (and returns true)
     * when an event stream is refused. Event streams are counted per address here.
     */
    track(req: IncomingMessage, res: ServerResponse): boolean {
      if (!req.headers.accept?.includes("text/event-stream")) return false;
      const ip = req.socket.remoteAddress ?? "unknown";
      const releaseIp = options.caps.acquire(`connections:ip:${ip}`, options.limits.connectionsPerIp);
      if (!releaseIp) {
        options.refusals.record("connections_per_ip", ip, "too many connections from this address");
        const [body, init] = refusal(429, "Too Many Requests", "RATE_LIMITED", "too many connections from this address");
        res.writeHead(init.status, init.headers).end(body);
        return true;
      }
      // Finds readers that vanished without closing while the stream is idle.
      req.socket.setKeepAlive(true, options.limits.sseKeepAliveMs);
      const events = new EventEmitter();
      responseTransport(res, events);
      const stream: Stream = {
        res,
        released: [releaseIp],
        connection: {
          kind: "sse",
          ip,
          outbox: new Outbox(
            { buffered: () => res.writableLength, congested: () => res.writableNeedDrain, events, close: () => res.destroy() },
            { budgetBytes: options.limits.connectionBufferBytes, onStalled: () => options.refusals.record("stalled_connection", ip, "an event stream stopped reading") },
          ),
        },
      };
      streams.set(res, stream);
      const token = tokenOf(req.url, req.headers[TOKEN_HEADER] as string | undefined);
      const reservation = token === undefined ? undefined : reservations.get(token);
      if (reservation && !reservation.res) {
        clearTimeout(reservation.expiry);
        reservation.res = res;
        reservation.connection.ip = ip;
        responseTransport(res, reservation.events);
        // Results waiting for the stream may go now.
        reservation.events.emit("drain");
      }
      res.once("close", () => {
        streams.delete(res);
        for (const release of stream.released) release();
        if (reservation && reservation.res === res && token !== undefined) {
          // graphql-sse forgets a reservation whose stream ended; so do we.
          reservations.delete(token);
          reservation.releaseCount();
        }
      });
      return false;
    },

    /**
     * The connection a context's results go out on: the reservation's stream for a request that
     * names one, else the request's own event stream.
     */
    connectionOf(res: ServerResponse | undefined, request: Request | undefined): Connection | undefined {
      const token = request ? tokenOf(request.url, request.headers.get(TOKEN_HEADER)) : undefined;
      const reservation = token === undefined ? undefined : reservations.get(token);
      if (reservation) return reservation.connection;
      return res === undefined ? undefined : streams.get(res)?.connection;
    },

    /** graphql-sse's `authenticate`: see the class comment. */
    async authenticate(req: { method: string; url: string; headers: { get(name: string): string | null | undefined } }) {
      const token = tokenOf(req.url, req.headers.get(TOKEN_HEADER));
      const authorization = req.headers.get("authorization") ?? undefined;
      if (req.method === "PUT") {
        if (!authorization) return refusal(401, "Unauthorized", "UNAUTHENTICATED", "a secret key or public access token is required");
        const auth = await options.authenticator.authenticate(authorization);
        if (!auth.principal) return refusal(401, "Unauthorized", "UNAUTHENTICATED", auth.failure);
        const key = credentialKey(authorization);
        const releaseCount = options.caps.acquire(`reservations:${key}`, options.limits.sseReservationsPerToken);
        if (!releaseCount) {
          options.refusals.record("sse_reservations", key.slice(0, 12), "too many SSE reservations");
          return refusal(429, "Too Many Requests", "RATE_LIMITED", `at most ${options.limits.sseReservationsPerToken} open reservations per credential`);
        }
        const id = randomUUID();
        const reservation = reserve(key);
        reservation.releaseCount = releaseCount;
        reservation.expiry = setTimeout(() => {
          if (reservation.res || reservations.get(id) !== reservation) return;
          reservations.delete(id);
          releaseCount();
          reservation.events.emit("close");
          dropping.add(id);
          void options.dropReservation(id).finally(() => dropping.delete(id));
        }, options.limits.sseReservationTtlMs);
        reservation.expiry.unref();
        reservations.set(id, reservation);
        return id;
      }
      if (token !== undefined) {
        // Only tokens this server made, for reservations still open.
        if (!reservations.has(token) && !dropping.has(token)) return refusal(404, "Not Found", "BAD_USER_INPUT", "stream not found");
        return token;
      }
      // A distinct event stream carries one subscription: subscriptionsPerToken bounds them per credential.
      return undefined;
    },
  };
}

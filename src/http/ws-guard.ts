import { CloseCode } from "graphql-ws";
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { WebSocket, WebSocketServer } from "ws";
import type { Authenticator } from "../auth/index.js";
import type { Limits } from "../limits.js";
import type { CountedCaps } from "../live/index.js";
import { credentialKey, encodedResultData, Outbox, type Connection } from "../live/index.js";
import type { Refusals } from "../refusals.js";

export interface WsGuardOptions {
  /** The figures in force (services.limits). */
  limits: Pick<Limits, "connectionsPerIp" | "connectionsPerToken" | "connectionsPerSecretKey" | "connectionBufferBytes">;
  refusals: Pick<Refusals, "record">;
  authenticator: Pick<Authenticator, "authenticate">;
  /** Connection counts per address and per credential, shared with the event streams. */
  caps: CountedCaps;
}

/** RFC 6455's "try again later": graphql-ws clients retry it, unlike its own 44xx codes. */
const TRY_AGAIN_LATER = 1013;

/** Stands in for a shared result in the JSON graphql-ws builds; replaced by that result's one encoding. */
const SHARED = "\u0000shared-result\u0000";
const SHARED_JSON = JSON.stringify(SHARED);

/**
 * The limits of the WebSocket transport: connections per address and per credential, an
 * authenticated `connection_init` before anything else (4401 without a credential, 4403 with a
 * bad one), a byte budget per socket (its `bufferedAmount`, see Outbox), and results sent from
 * their shared encoding instead of being stringified again for every socket.
 */
export function guardWebSockets(wss: WebSocketServer, options: WsGuardOptions) {
  const connections = new WeakMap<WebSocket, Connection & { released: (() => void)[] }>();
  /** Set by the replacer while graphql-ws stringifies a message, taken by that message's send. */
  let shared: string | undefined;

  wss.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    const ip = request.socket.remoteAddress ?? "unknown";
    const releaseIp = options.caps.acquire(`connections:ip:${ip}`, options.limits.connectionsPerIp);
    if (!releaseIp) {
      options.refusals.record("connections_per_ip", ip, "too many connections from this address");
      socket.close(TRY_AGAIN_LATER, "RATE_LIMITED: too many connections from this address");
      return;
    }
    const events = new EventEmitter();
    request.socket.on("drain", () => events.emit("drain"));
    const outbox = new Outbox(
      {
        buffered: () => socket.bufferedAmount,
        congested: () => request.socket.writableNeedDrain,
        events,
        // The reader is not reading: a close frame would wait behind what it has not read.
        close: () => socket.terminate(),
      },
      { budgetBytes: options.limits.connectionBufferBytes, onStalled: () => options.refusals.record("stalled_connection", ip, "a WebSocket stopped reading") },
    );
    const connection = { kind: "ws" as const, outbox, ip, released: [releaseIp] };
    connections.set(socket, connection);
    socket.once("close", () => {
      events.emit("close");
      for (const release of connection.released) release();
    });
    const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      const json = shared;
      shared = undefined;
      if (json !== undefined && typeof data === "string") {
        const at = data.indexOf(SHARED_JSON);
        if (at >= 0) data = data.slice(0, at) + json + data.slice(at + SHARED_JSON.length);
      }
      send(data, ...rest);
    }) as WebSocket["send"];
  });

  return {
    /** The connection a socket's subscriptions deliver through (see bindConnection). */
    connectionOf: (socket: unknown): Connection | undefined => connections.get(socket as WebSocket),

    /**
     * graphql-ws `onConnect`: the credential in `connection_init` must authenticate, and its
     * connections are counted. Refusing closes the socket (4401/4403 or 1013).
     */
    async onConnect(ctx: { connectionParams?: Readonly<Record<string, unknown>>; extra: { socket: WebSocket } }) {
      const socket = ctx.extra.socket;
      const authorization = typeof ctx.connectionParams?.authorization === "string" ? ctx.connectionParams.authorization : undefined;
      if (!authorization) {
        socket.close(CloseCode.Unauthorized, "Unauthorized: connection_init needs an authorization");
        return false;
      }
      const auth = await options.authenticator.authenticate(authorization);
      if (!auth.principal) {
        socket.close(CloseCode.Forbidden, `Forbidden: ${auth.failure}`);
        return false;
      }
      const connection = connections.get(socket);
      const key = credentialKey(authorization);
      const secret = auth.principal.credential.kind === "secretKey";
      const release = options.caps.acquire(`connections:${key}`, secret ? options.limits.connectionsPerSecretKey : options.limits.connectionsPerToken);
      if (!release) {
        options.refusals.record("connections_per_token", key.slice(0, 12), "too many connections for one credential");
        socket.close(TRY_AGAIN_LATER, "RATE_LIMITED: too many connections for this credential");
        return false;
      }
      if (connection && socket.readyState === socket.OPEN) connection.released.push(release);
      else release();
      return true;
    },

    /**
     * graphql-ws `jsonMessageReplacer`: a shared result's `data` is not stringified again; the
     * socket's send puts its one encoding in place of the stand-in.
     */
    replacer(this: unknown, key: string, value: unknown) {
      if (key === "") shared = undefined;
      else if (key === "data") {
        const json = encodedResultData(value);
        if (json !== undefined) {
          shared = json;
          return SHARED;
        }
      }
      return value;
    },
  };
}

import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { createYoga } from "graphql-yoga";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { errorShaping, streamErrorsAsResults, subscriptionErrorsWithData } from "./errors/index.js";
import { answerLimits, createContext, deliveryLimits, inputGuard, introspectionNeedsAuth, metricsPlugin, rateLimit, refuseBody, schema, sharedSubscriptionResults, type Context } from "./graphql/index.js";
import { corsOptions, currentRequestId, eventStreams, guardEventStreams, guardWebSockets, healthz, requestIdOf, streamWithRequestId, webPages, withRequestId } from "./http/index.js";
import { limits } from "./limits.js";
import { bindConnection, CountedCaps } from "./live/index.js";
import type { Services } from "./services.js";

export const GRAPHQL_PATH = "/graphql";
export const SSE_PATH = "/graphql/stream";
const MAX_BODY_BYTES = limits.requestBodyBytes;
const WS_PING_MS = 15_000;

interface InitialContext {
  request?: Request;
  connectionParams?: Record<string, unknown>;
  /** The node response of an HTTP request (yoga's server context). */
  res?: ServerResponse;
  /** The WebSocket a graphql-ws operation came on. */
  socket?: unknown;
}

const graphiqlQuery = `# Create a session, append to its "in" channel, and watch it live in another tab:
#   subscription { sessionRecords(id: "chat-1", io: IN, fromSeqNum: 0) { seqNum data } }
# Put your secret key in Headers as {"Authorization": "Bearer sk_..."}.
mutation Start {
  createSession(input: { type: "chat", externalId: "chat-1" }) { isCached session { id status } }
}

mutation Say {
  appendToSession(id: "chat-1", io: IN, records: [{ data: { text: "hello" } }]) { firstSeqNum tailSeqNum }
}
`;

export function createApp(services: Services) {
  const masking = errorShaping({ logger: services.logger, count: (code) => services.metrics.errors.inc({ code }) });
  // Only asked when an error carries a "Did you mean" suggestion, which is for authenticated callers.
  const authenticated = async (authorization: string | undefined) => Boolean((await services.authenticator.authenticate(authorization)).principal);
  // Connections and subscriptions held open, per address and per credential, across both transports.
  const caps = new CountedCaps();
  const guardOptions = { limits: services.limits, refusals: services.refusals, authenticator: services.authenticator, caps };
  const sse = guardEventStreams({
    ...guardOptions,
    async dropReservation(token) {
      // graphql-sse forgets a reservation once its stream has come and gone: connect, then cancel.
      const response = await yoga.fetch(`http://localhost${SSE_PATH}`, { headers: { accept: "text/event-stream", "x-graphql-event-stream-token": token } });
      await response.body?.cancel();
    },
  });
  const yoga = createYoga<InitialContext, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // Enforced before yoga, more cheaply: see refuseBody.
    maxRequestBodySize: false,
    landingPage: false,
    // GraphiQL's assets come from this package, not a CDN: it works offline and behind firewalls.
    renderGraphiQL,
    logging: {
      debug: (...args) => services.logger.debug(args.map(String).join(" ")),
      info: (...args) => services.logger.info(args.map(String).join(" ")),
      warn: (...args) => services.logger.warn(args.map(String).join(" ")),
      error: (...args) => {
        if (args.length === 1 && masking.logged(args[0])) return;
        services.logger.error(args.map(String).join(" "));
      },
    },
    maskedErrors: { maskError: masking.maskError },
    // graphql-sse carries the Authorization header GraphiQL sends; a WebSocket would need connectionParams.
    graphiql: services.config.GRAPHIQL === "1" && { title: "Sessions", subscriptionsProtocol: "GRAPHQL_SSE", defaultQuery: graphiqlQuery },
    cors: corsOptions(services.config.CORS_ORIGINS),
    context: async (initial) => {
      const authorization =
        initial.request?.headers.get("authorization") ??
        (typeof initial.connectionParams?.authorization === "string" ? initial.connectionParams.authorization : undefined);
      const requestId = currentRequestId() ?? randomUUID();
      const context = await createContext(services, authorization, requestId);
      // The connection its results go out on (byte budget, subscription caps), when it has one.
      bindConnection(context, initial.socket ? ws.connectionOf(initial.socket) : sse.connectionOf(initial.res, initial.request), authorization);
      return context;
    },
    plugins: [
      healthz(services),
      metricsPlugin(services.metrics),
      webPages(),
      eventStreams({
        endpoint: SSE_PATH,
        shaping: masking,
        authenticated,
        authenticate: (req) => sse.authenticate(req),
        onStreamError: (error, requestId) => services.logger.error({ err: error, requestId }, "event stream failed"),
      }),
      EnvelopArmorPlugin({
        maxDepth: { n: 10 },
        costLimit: { maxCost: 5_000 },
        maxAliases: { n: 30 },
        maxTokens: { n: 2_000 },
        maxDirectives: { n: 20 },
        blockFieldSuggestion: { enabled: false },
      }),
      rateLimit(services),
      answerLimits({
        answerBytes: services.limits.answerBytes,
        maxCost: services.limits.listCost,
        recordBytesMax: services.limits.recordBytes,
        refusals: services.refusals,
      }),
      deliveryLimits({ limits: services.limits, refusals: services.refusals, caps }),
      inputGuard,
      introspectionNeedsAuth(),
      masking.httpPlugin(authenticated),
      streamErrorsAsResults,
      subscriptionErrorsWithData,
      sharedSubscriptionResults(() => services.metrics.recordsDelivered.inc()),
    ],
  });

  const server = createServer((req, res) => {
    const requestId = requestIdOf(req);
    res.setHeader("x-request-id", requestId);
    if (refuseBody(req, res, MAX_BODY_BYTES, (code) => services.metrics.errors.inc({ code }))) return;
    // Every event stream, whatever its path: yoga also streams subscriptions on /graphql to a client that accepts SSE.
    if (sse.track(req, res)) return;
    withRequestId(requestId, () => void yoga(req, res));
  });
  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH, maxPayload: MAX_BODY_BYTES });
  const ws = guardWebSockets(wss, guardOptions);
  const wsRequestIds = operationRequestIds();
  const wsServer = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      // The enveloped execute/subscribe carry yoga's plugins (masking, limits) onto WebSocket too,
      // each operation under its own request id.
      execute: (args) => withRequestId(operationId(args), () => (args.rootValue as Enveloped).execute(args)),
      subscribe: (args) =>
        withRequestId(operationId(args), async () => {
          const result = await (args.rootValue as Enveloped).subscribe(args);
          return Symbol.asyncIterator in result ? streamWithRequestId(operationId(args), result) : result;
        }),
      // An authenticated connection_init first (4401/4403 otherwise), counted per credential.
      onConnect: (ctx) => ws.onConnect(ctx as Parameters<typeof ws.onConnect>[0]),
      jsonMessageReplacer: ws.replacer,
      onSubscribe: async (ctx, id, params) => {
        const requestId = randomUUID();
        wsRequestIds.set(ctx, id, requestId);
        const enveloped = yoga.getEnveloped({ connectionParams: ctx.connectionParams, params, req: ctx.extra.request, socket: (ctx.extra as { socket?: unknown }).socket });
        let document;
        try {
          document = enveloped.parse(params.query);
        } catch (error) {
          // A syntax error is the client's: an `error` message, not a socket closed as 4500.
          return [error instanceof GraphQLError ? error : new GraphQLError(String((error as Error).message), { originalError: error as Error })];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        return withRequestId(requestId, async () => ({
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        }));
      },
      // Errors leave in the contract's shape (src/errors/shaping.ts); results without errors untouched.
      // Checked here first: a result without errors (nearly every one) costs no audience object.
      onNext: (_ctx, _id, _payload, args, result) =>
        result.errors?.length
          ? masking.formatResult(result, { requestId: operationId(args), authenticated: () => (args.contextValue as Context).auth.principal !== null })
          : undefined,
      onError: (ctx, id, _payload, errors) =>
        masking.formatErrors(errors, { requestId: wsRequestIds.take(ctx, id), authenticated: () => authenticated(wsAuthorization(ctx.connectionParams)) }),
      onComplete: (ctx, id) => void wsRequestIds.take(ctx, id),
    },
    wss,
  );
  // Keep-alive: proxies drop idle sockets, and a dead peer is only noticed when a ping goes unanswered.
  const alive = new WeakSet<object>();
  wss.on("connection", (socket) => {
    alive.add(socket);
    socket.on("pong", () => alive.add(socket));
  });
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) socket.terminate();
      else {
        alive.delete(socket);
        socket.ping();
      }
    }
  }, WS_PING_MS);
  pinger.unref();

  return {
    server,
    yoga,
    /** Cuts every open connection, HTTP and WebSocket, as a network failure would (tests, drills). */
    dropConnections() {
      server.closeAllConnections();
      for (const socket of wss.clients) socket.terminate();
    },
    async listen(port: number, host: string) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
    },
    async close() {
      clearInterval(pinger);
      await wsServer.dispose();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The request id of a graphql-ws operation: its context's. */
const operationId = (args: { contextValue?: unknown }) => (args.contextValue as Context).requestId;
const wsAuthorization = (params: Readonly<Record<string, unknown>> | undefined) =>
  typeof params?.authorization === "string" ? params.authorization : undefined;

/**
 * Each graphql-ws operation's request id, from its subscribe message to its end: an `error`
 * message (graphql-ws's onError) has no execution context to carry it.
 */
function operationRequestIds() {
  const byConnection = new WeakMap<object, Map<string, string>>();
  return {
    set(connection: object, id: string, requestId: string) {
      let ids = byConnection.get(connection);
      if (!ids) byConnection.set(connection, (ids = new Map()));
      ids.set(id, requestId);
    },
    take(connection: object, id: string) {
      const ids = byConnection.get(connection);
      const requestId = ids?.get(id);
      ids?.delete(id);
      return requestId;
    },
  };
}

type Enveloped = Pick<ReturnType<ReturnType<typeof createYoga>["getEnveloped"]>, "execute" | "subscribe">;
export type App = ReturnType<typeof createApp>;
export type { Server };

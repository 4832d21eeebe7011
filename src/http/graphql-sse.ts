import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionResult } from "graphql";
import { Readable } from "node:stream";
import { createHandler, type HandlerOptions } from "graphql-sse";
import { isAsyncIterable, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { Audience, ErrorShaping } from "../errors/index.js";
import { badInput } from "../errors/index.js";
import { currentRequestId } from "./request-context.js";

type FetchAPI = YogaServerInstance<Record<string, unknown>, Record<string, unknown>>["fetchAPI"];
type SseHandlerOptions = Omit<HandlerOptions<Request, FetchAPI>, "onSubscribe" | "schema" | "execute" | "subscribe" | "validate" | "context">;

export interface EventStreamOptions extends SseHandlerOptions {
  /** Where the graphql-sse protocol is served. Default: "/graphql/stream". */
  endpoint?: string;
  /** Shapes every error sent (see src/errors/shaping.ts). Required. */
  shaping: ErrorShaping;
  /** Whether an Authorization value authenticates (only asked when an error has a suggestion). Required. */
  authenticated: (authorization: string | undefined) => Promise<boolean>;
  /**
   * Told of an event stream that failed (graphql-sse fails a stream when an operation's results
   * do); the stream then ends as if completed. Default: nothing told.
   */
  onStreamError?: (error: unknown, requestId: string | undefined) => void;
}

/**
 * The graphql-sse protocol (both "distinct connections" and "single connection" modes) on yoga,
 * like @graphql-yoga/plugin-graphql-sse, with errors in the contract's shape. That plugin lets a
 * syntax error escape as a 500, answers a validation error with graphql-sse's 400 "Unable to
 * detect operation AST", and sends errors without code or request id; here every one of them is
 * a GraphQL result on the event stream, and graphql-sse's own refusals (missing query, unknown
 * stream) carry a code and the request id too.
 */
export function eventStreams(options: EventStreamOptions): Plugin {
  const { endpoint = "/graphql/stream", shaping, authenticated, onStreamError, onNext, ...handlerOptions } = options;
  const audience = (request: Request): Audience => ({
    // The result stream of a request (even one posted to a "single connection" stream) runs in
    // that request's context, so the id is the one its response header carries.
    requestId: currentRequestId(),
    authenticated: () => authenticated(request.headers.get("authorization") ?? undefined),
  });
  const refused = (errors: readonly unknown[]): ExecutionResult => ({ data: null, errors: errors as GraphQLError[] });
  let handler: ((request: Request) => Promise<Response>) | undefined;
  /**
   * The server context (node's req and res) of each request, for the operation it carries: the
   * context factory finds the event stream's delivery budget through it (src/live/outbox.ts).
   */
  const serverContexts = new WeakMap<Request, object>();

  return {
    onYogaInit({ yoga }) {
      const server = yoga as YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
      const handle = createHandler<Request, FetchAPI>(
        {
          ...handlerOptions,
          async onSubscribe(req, params) {
            const enveloped = server.getEnveloped({ ...serverContexts.get(req.raw), request: req.raw, params });
            let document: DocumentNode;
            try {
              document = enveloped.parse(params.query);
            } catch (error) {
              return refused([error]);
            }
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length > 0) return refused(errors);
            const operation = getOperationAST(document, params.operationName);
            if (!operation) return refused([badInput("the document names no operation to run (operationName)")]);
            // graphql-sse refuses these itself when it runs the operation; here it is run by yoga.
            if (operation.operation === "mutation" && req.method === "GET") return refused([badInput("a mutation needs a POST request")]);
            const args = {
              schema: enveloped.schema,
              document,
              operationName: params.operationName,
              variableValues: params.variables,
              contextValue: await enveloped.contextFactory(),
            };
            const result = operation.operation === "subscription" ? await enveloped.subscribe(args) : await enveloped.execute(args);
            // graphql-sse only takes a result that has a `data` key for one.
            return isAsyncIterable(result) || "data" in result ? result : { ...result, data: null };
          },
          async onNext(ctx, req, result) {
            // Records, the hot path, go out untouched; GraphQLErrors serialize to their JSON shape.
            const shaped = result.errors?.length ? { ...result, errors: await shaping.shapeErrors(result.errors, audience(req.raw)) } : undefined;
            return (await onNext?.(ctx, req, shaped ?? result)) ?? shaped;
          },
        },
      );
      handler = async (request) => {
        const [body, init] = await handle({ method: request.method, url: request.url, headers: request.headers, body: () => request.text(), raw: request, context: yoga.fetchAPI });
        if (body === null || typeof body === "string") return new yoga.fetchAPI.Response(body, init);
        const requestId = currentRequestId();
        const stream = eventStream(body, request.signal, (error) => onStreamError?.(error, requestId));
        // @whatwg-node's Response takes a node Readable as its body (and pipes it); its types say BodyInit.
        return new yoga.fetchAPI.Response(stream as unknown as BodyInit, init);
      };
    },
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (!handler || url.pathname !== endpoint) return;
      serverContexts.set(request, serverContext);
      const response = await handler(request);
      endResponse(response.ok ? response : await shapeRefusal(response, fetchAPI.Response, shaping, audience(request)));
    },
  };
}

/**
 * graphql-sse's event stream as the response body: its text events go to the socket as they are
 * (the response pipes a readable into node's), where graphql-sse's fetch adapter made each one a
 * Uint8Array (a new ArrayBuffer per event per subscriber, most of the SSE path's collector time
 * with a thousand subscribers) inside a web ReadableStream pulled through promises. One event is
 * read ahead at most: the rest wait in graphql-sse, behind the delivery budget (src/live/outbox.ts).
 * A client gone, or the request aborted, ends the stream and its operations.
 */
export function eventStream(events: AsyncGenerator<string, void, undefined>, signal: AbortSignal, onError: (error: unknown) => void): Readable {
  const end = () => void events.return(undefined).catch(onError);
  if (signal.aborted) end();
  else signal.addEventListener("abort", end, { once: true });
  return Readable.from(endingOnError(events, onError), { objectMode: true, highWaterMark: 1 });
}

/**
 * The events until the stream fails, then the end: a readable that fails would leave the response
 * open with nothing behind it (a pipe does not end its destination on an error), and an error
 * nobody listens for ends the process. Not a generator: a generator waiting for its next event
 * takes its `return` only after that event, so a client gone would not end graphql-sse's stream.
 */
function endingOnError(events: AsyncGenerator<string, void, undefined>, onError: (error: unknown) => void): AsyncIterableIterator<string> {
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const told = (error: unknown) => {
    onError(error);
    return done;
  };
  const iterator: AsyncIterableIterator<string> = {
    next: () => events.next().then((step) => (step.done ? done : step), told),
    // An operation that fails as it is ended (graphql-sse ends them all here) is told, not thrown:
    // the readable would make it an error nobody listens for.
    return: () => events.return(undefined).then(() => done, told),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/** graphql-sse's JSON refusals (`{ errors: [{ message }] }`) with contract codes and the request id. */
async function shapeRefusal(response: Response, Response_: typeof Response, shaping: ErrorShaping, audience: Audience): Promise<Response> {
  if (!response.headers.get("content-type")?.includes("application/json")) return response;
  const body = (await response
    .clone()
    .json()
    .catch(() => undefined)) as { errors?: { message?: unknown; extensions?: Record<string, unknown> }[] } | undefined;
  if (!Array.isArray(body?.errors)) return response;
  const errors = body.errors.map((e) => new GraphQLError(String(e.message ?? "bad request"), { extensions: e.extensions }));
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response_(JSON.stringify({ errors: await shaping.formatErrors(errors, audience) }), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

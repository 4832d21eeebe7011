import { GraphQLError, locatedError, type ExecutionResult, type FormattedExecutionResult, type GraphQLFormattedError } from "graphql";
import { isAsyncIterable, mapAsyncIterator, type Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { currentRequestId, withRequestId } from "../http/index.js";
import { errorCodes, type ErrorCode } from "./api-error.js";

const known = new Set<string>(errorCodes);

// Duck-typed rather than instanceof: graphql can be loaded twice (its CJS and ESM builds), and an
// error from the other copy must still be recognised.
const isGraphQLError = (e: unknown): e is GraphQLError => e instanceof Error && e.name === "GraphQLError";
const contractCode = (e: unknown) => {
  const code = isGraphQLError(e) ? e.extensions?.code : undefined;
  return typeof code === "string" && known.has(code) ? code : undefined;
};

/**
 * The one place errors are shaped for clients. Our own ApiErrors and graphql-js's request errors
 * pass through; anything else thrown while resolving is logged with its context and replaced by
 * a generic message. Yoga logs each error a mask replaces too, without that context: `logged`
 * tells those apart, so each internal error is logged once.
 */
export function errorMasking(logger: Logger) {
  const seen = new WeakSet<object>();
  const maskError = (error: unknown): Error => {
    if (contractCode(error)) return error as GraphQLError;
    if (isGraphQLError(error)) {
      const original = error.originalError;
      // A located wrapper of one of our errors, or a request error from graphql-js itself.
      if (contractCode(original) || !original || (isGraphQLError(original) && !original.originalError)) {
        // Returned as it is, codes merged in place: yoga logs every error a mask replaces, and a
        // client's mistake is not the server's error.
        Object.assign(error.extensions, { ...(original as GraphQLError | undefined)?.extensions, ...error.extensions });
        return error;
      }
      logger.error({ err: original, path: error.path?.join("."), requestId: currentRequestId() }, "internal error while resolving");
    } else {
      logger.error({ err: error, requestId: currentRequestId() }, "internal error");
    }
    if (typeof error === "object" && error !== null) seen.add(error);
    return new GraphQLError("Internal server error", {
      extensions: { code: "INTERNAL_SERVER_ERROR" },
      path: isGraphQLError(error) ? error.path : undefined,
    });
  };
  const logged = (value: unknown) => typeof value === "object" && value !== null && seen.has(value);
  return { maskError, logged };
}

/** The errors of a processed result, single or batched; none for a stream. */
export function resultErrors(result: unknown): GraphQLError[] {
  return (Array.isArray(result) ? result : [result]).flatMap((r) =>
    r && typeof r === "object" && "errors" in r && Array.isArray(r.errors) ? (r.errors as GraphQLError[]) : [],
  );
}

/** Who an error goes to. */
export interface Audience {
  /** The request id each error carries (`extensions.requestId`); see request-context.ts. */
  requestId: string | undefined;
  /**
   * Whether the caller presented a valid credential: graphql-js's "Did you mean …" suggestions
   * map the schema for whoever asks, so only authenticated callers get them. Asked only when an
   * error has one.
   */
  authenticated: () => boolean | Promise<boolean>;
}

/** graphql-js appends its suggestions to the message: ` Did you mean "a", "b", or "c"?`. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export type ErrorShaping = ReturnType<typeof errorShaping>;

/**
 * The one module that shapes errors for every transport: HTTP (yoga's result hook), graphql-ws
 * and graphql-sse (their own hooks call `formatResult` and `formatErrors`). Each error leaves with
 * a contract code (graphql-js's and the guards' own codes are bad input), its request id, no
 * `http` extension (yoga's transport detail), internal errors masked and logged once with their
 * request id, suggestions only for authenticated callers, and each is counted once by code.
 * Errors are copied, never changed in place: yoga caches validation errors per document and a
 * subscription's result may be shared by every subscriber (shared-results.ts).
 */
export function errorShaping(options: {
  logger: Logger;
  /** Counts one error sent to a client (sessions_graphql_errors_total). */
  count: (code: ErrorCode) => void;
}) {
  const masking = errorMasking(options.logger);

  const shapeOne = (error: unknown, requestId: string | undefined, withoutSuggestions: boolean, keepHttp: boolean) => {
    // Contract and request errors come back as they are; anything else is logged and masked.
    const shown = masking.maskError(error) as GraphQLError;
    const code = (contractCode(shown) ?? "BAD_USER_INPUT") as ErrorCode;
    const { http, ...extensions } = shown.extensions ?? {};
    options.count(code);
    return new GraphQLError(withoutSuggestions ? shown.message.replace(SUGGESTION, "") : shown.message, {
      nodes: shown.nodes,
      source: shown.source,
      positions: shown.positions,
      path: shown.path,
      originalError: shown.originalError,
      // Over HTTP, yoga takes its status from `http` and leaves it out of the response itself.
      extensions: { ...extensions, ...(keepHttp && http && { http }), code, ...(requestId && { requestId }) },
    });
  };

  /** Copies of `errors` in the contract's shape; see errorShaping. */
  async function shapeErrors(errors: readonly unknown[], audience: Audience, keepHttp = false): Promise<GraphQLError[]> {
    const suggests = errors.some((e) => e instanceof Error && e.message.search(SUGGESTION) >= 0);
    const withoutSuggestions = suggests && !(await audience.authenticated());
    // The mask's log line for an internal error names the request it belongs to.
    return withRequestId(audience.requestId ?? "", () => errors.map((e) => shapeOne(e, audience.requestId, withoutSuggestions, keepHttp)));
  }

  /** `errors` as they go out on a wire (graphql-ws `error` messages, refusals). */
  async function formatErrors(errors: readonly unknown[], audience: Audience): Promise<GraphQLFormattedError[]> {
    return (await shapeErrors(errors, audience)).map((e) => e.toJSON());
  }

  /**
   * A result as it goes out on a wire (graphql-ws and graphql-sse `next`), or undefined when it
   * has no errors: records, the hot path, go out untouched.
   */
  function formatResult(result: ExecutionResult | FormattedExecutionResult, audience: Audience): Promise<FormattedExecutionResult> | undefined {
    if (!result.errors?.length) return undefined;
    return shapeErrors(result.errors, audience).then((errors) => ({ ...result, errors: errors.map((e) => e.toJSON()) }) as FormattedExecutionResult);
  }

  return {
    maskError: masking.maskError,
    logged: masking.logged,
    shapeErrors,

    formatErrors,
    formatResult,

    /** Yoga's side: every result it sends over HTTP, single, batched or streamed (yoga's own SSE). */
    httpPlugin(authenticated: (authorization: string | undefined) => Promise<boolean>): Plugin {
      return {
        async onResultProcess({ request, result, setResult }) {
          const audience: Audience = {
            requestId: currentRequestId(),
            authenticated: () => authenticated(request.headers.get("authorization") ?? undefined),
          };
          if (isAsyncIterable(result)) {
            // Each event is a result of its own; without `http`, which only a response's status uses.
            setResult(mapAsyncIterator(result, async (r) => (r.errors?.length ? { ...r, errors: await shapeErrors(r.errors, audience) } : r)));
            return;
          }
          const shaped = await Promise.all(
            (Array.isArray(result) ? result : [result]).map(async (r) => (r.errors?.length ? { ...r, errors: await shapeErrors(r.errors, audience, true) } : r)),
          );
          setResult(Array.isArray(result) ? shaped : shaped[0]!);
        },
      };
    },
  };
}

/**
 * An error thrown by a subscription's event stream (a slow subscriber's RATE_LIMITED, a caller's
 * rights ending, a failed read) ends the stream with one last result carrying it, so that every
 * transport delivers it like any other GraphQL error, then completes. Left to themselves,
 * graphql-sse drops the event stream without a word and graphql-ws answers with the raw message.
 */
export const streamErrorsAsResults: Plugin = {
  onSubscribe() {
    return {
      onSubscribeResult({ result, setResult }) {
        if (isAsyncIterable(result)) setResult(endWithError(result));
      },
    };
  },
};

function endWithError<T>(source: AsyncIterable<T>): AsyncIterableIterator<T | ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let over = false;
  const done = { done: true, value: undefined } as const;
  const lastResult = (error: unknown): IteratorResult<T | ExecutionResult> => {
    // An aborted request has nobody left to tell; yoga wants its AbortError back.
    if (error instanceof Error && error.name === "AbortError") throw error;
    over = true;
    return { done: false, value: { data: null, errors: [isGraphQLError(error) ? error : locatedError(error, undefined)] } };
  };
  return {
    // A plain promise chain, not an async function per event (see the live-access Guard).
    next() {
      if (over) return Promise.resolve(done);
      let step: Promise<IteratorResult<T>>;
      try {
        step = iterator.next();
      } catch (error) {
        step = Promise.reject(error);
      }
      return step.then(undefined, lastResult);
    },
    // Straight to the source, even while a next() waits: a subscriber that leaves is let go at once.
    async return() {
      over = true;
      await iterator.return?.();
      return done;
    },
    async throw(error: unknown) {
      over = true;
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * A subscription refused before it starts (auth, missing session) yields `{ errors }`.
 * graphql-sse only recognises a result that has a `data` key, and otherwise answers 400
 * "Unable to detect operation AST"; `data: null` lets the client see the real error.
 */
export const subscriptionErrorsWithData: Plugin = {
  onSubscribe() {
    return {
      onSubscribeResult({ result, setResult }) {
        if (!(Symbol.asyncIterator in result) && !("data" in result)) setResult({ ...result, data: null });
      },
    };
  },
};

import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { errorCodes } from "./errors.js";
import { currentRequestId } from "./http/request-context.js";

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

/**
 * Errors graphql-js and the request guards raise (syntax, validation, variable coercion, depth
 * and cost limits) carry no code or one outside the contract: they are all bad input. Every error
 * also carries the request id.
 */
export const contractErrorCodes: Plugin = {
  onResultProcess({ result }) {
    const requestId = currentRequestId();
    for (const e of resultErrors(result)) {
      const code = e.extensions?.code;
      const extensions = e.extensions as Record<string, unknown>;
      if (typeof code !== "string" || !known.has(code)) extensions.code = "BAD_USER_INPUT";
      // Quoted in a bug report, it finds the server's log lines for this request.
      if (requestId) extensions.requestId = requestId;
    }
  },
};

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

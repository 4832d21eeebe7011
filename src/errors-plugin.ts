import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { ApiError, errorCodes } from "./errors.js";

const known = new Set<string>(errorCodes);

/**
 * The one place errors are shaped for clients. Our own ApiErrors pass through; anything else
 * thrown while resolving is logged with its context and replaced by a generic message.
 */
export function maskError(logger: Logger) {
  return (error: unknown, _message: string): Error => {
    if (error instanceof ApiError) return error;
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (!original || original instanceof ApiError || (original instanceof GraphQLError && !original.originalError)) {
        return original instanceof ApiError
          ? new ApiError(original.extensions.code as never, original.message)
          : error;
      }
      logger.error({ err: original, path: error.path?.join(".") }, "internal error while resolving");
    } else {
      logger.error({ err: error }, "internal error");
    }
    return new GraphQLError("Internal server error", {
      extensions: { code: "INTERNAL_SERVER_ERROR" },
      path: error instanceof GraphQLError ? error.path : undefined,
    });
  };
}

/**
 * Errors graphql-js and the request guards raise (syntax, validation, variable coercion, depth
 * and cost limits) carry no code or one outside the contract: they are all bad input.
 */
export const contractErrorCodes: Plugin = {
  onResultProcess({ result }) {
    const results = Array.isArray(result) ? result : [result];
    for (const r of results) {
      if (!r || typeof r !== "object" || !("errors" in r) || !Array.isArray(r.errors)) continue;
      for (const e of r.errors as GraphQLError[]) {
        const code = e.extensions?.code;
        if (typeof code !== "string" || !known.has(code)) {
          (e.extensions as Record<string, unknown>).code = "BAD_USER_INPUT";
        }
      }
    }
  },
};

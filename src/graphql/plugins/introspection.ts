import { visit, type DocumentNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { unauthenticated } from "../../errors/index.js";
import type { Context } from "../context.js";

/** Whether a document asks for the schema (`__schema` or `__type`, in any fragment); `__typename` does not. */
const introspects = (document: DocumentNode) => {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === "__schema" || node.name.value === "__type") {
        found = true;
        return false;
      }
      return undefined;
    },
  });
  return found;
};

/**
 * Introspection needs an authenticated caller, on every transport (all of them execute through
 * yoga's envelope): the schema is a map of the service that anonymous callers need not have.
 * Checked once per parsed document (yoga caches those), then per request only the caller.
 */
export function introspectionNeedsAuth(): Plugin<Context> {
  const seen = new WeakMap<DocumentNode, boolean>();
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (args.contextValue.auth.principal) return;
      let asks = seen.get(args.document);
      if (asks === undefined) seen.set(args.document, (asks = introspects(args.document)));
      if (asks) setResultAndStopExecution({ data: null, errors: [unauthenticated("introspection needs a secret key or public access token")] });
    },
  };
}


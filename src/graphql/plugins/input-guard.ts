import {
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  typeFromAST,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLInputType,
  type GraphQLSchema,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { badInput } from "../../errors/index.js";
import { textProblem } from "../../text.js";

/** The scalars whose values are stored as text: names, tags, keys, ids. JSON checks its own values. */
const TEXT_SCALARS = new Set(["String", "ID"]);

/** The first text argument that cannot be stored, from a variable, described; undefined if none. */
function variableProblem(type: GraphQLInputType, value: unknown, path: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (isNonNullType(type)) return variableProblem(type.ofType, value, path);
  if (isListType(type)) {
    if (!Array.isArray(value)) return variableProblem(type.ofType, value, path);
    for (const [i, item] of value.entries()) {
      const problem = variableProblem(type.ofType, item, `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isInputObjectType(type)) {
    if (typeof value !== "object") return undefined;
    const fields = type.getFields();
    for (const [name, item] of Object.entries(value)) {
      const field = fields[name];
      const problem = field && variableProblem(field.type, item, `${path}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (TEXT_SCALARS.has(getNamedType(type).name) && typeof value === "string") {
    const problem = textProblem(value);
    return problem && `${path} ${problem}`;
  }
  return undefined;
}

/** What a document says once and for all: its inline text's first problem, and its variables' types. */
interface DocumentPlan {
  literal: string | undefined;
  variables: [name: string, type: GraphQLInputType][];
}

/**
 * Per schema and document: yoga hands the same parsed document to every request with the same
 * text, so the walk of the document happens once, and a request only checks its variables.
 */
const plans = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, DocumentPlan>>();

function planOf(schema: GraphQLSchema, document: DocumentNode): DocumentPlan {
  let bySchema = plans.get(schema);
  if (!bySchema) plans.set(schema, (bySchema = new WeakMap()));
  let plan = bySchema.get(document);
  if (plan) return plan;
  const found: DocumentPlan = { literal: undefined, variables: [] };
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      StringValue(node) {
        const type = typeInfo.getInputType();
        if (found.literal || !type || !TEXT_SCALARS.has(getNamedType(type).name)) return;
        const problem = textProblem(node.value);
        if (problem) found.literal = `${typeInfo.getArgument()?.name ?? "an argument"} ${problem}`;
      },
      VariableDefinition(node) {
        const type = typeFromAST(schema, node.type) as GraphQLInputType | undefined;
        if (type) found.variables.push([node.variable.name.value, type]);
      },
    }),
  );
  bySchema.set(document, (plan = found));
  return plan;
}

/** Checks every String and ID argument of an operation, written inline or passed as a variable. */
export function textArgumentsProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
): string | undefined {
  const plan = planOf(schema, document);
  if (plan.literal) return plan.literal;
  for (const [name, type] of plan.variables) {
    const problem = variableProblem(type, variables?.[name], `$${name}`);
    if (problem) return problem;
  }
  return undefined;
}

// data: null, as subscriptionErrorsWithData gives refused subscriptions: graphql-sse needs the key.
const refusal = (problem: string): ExecutionResult => ({ data: null, errors: [badInput(problem)] });

/**
 * Refuses, before any resolver runs, a String or ID argument that PostgreSQL cannot store (the
 * NUL character, lone surrogates): otherwise it fails deep in a query as an internal error, with
 * a stack in the log, wherever a resolver forgot to check. JSON values are checked by their scalar.
 */
export const inputGuard: Plugin = {
  onExecute({ args, setResultAndStopExecution }) {
    const problem = textArgumentsProblem(args.schema, args.document, args.variableValues);
    if (problem) setResultAndStopExecution(refusal(problem));
  },
  onSubscribe({ args, setResultAndStopExecution }) {
    const problem = textArgumentsProblem(args.schema, args.document, args.variableValues);
    if (problem) setResultAndStopExecution(refusal(problem));
  },
};

import { Kind, type ValueNode } from "graphql";
import { badInput } from "../../errors/index.js";
import { limits } from "../../limits.js";
import { inDateRange, maxDate, minDate } from "../../sessions/index.js";
import { jsonProblem } from "../../text.js";
import { builder } from "./builder.js";

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function parseDateTime(value: unknown): Date {
  const date = typeof value === "string" && rfc3339.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw badInput(`DateTime must be an RFC 3339 string, got ${JSON.stringify(value)}`);
  if (!inDateRange(date)) throw badInput(`DateTime must be between ${minDate.toISOString()} and ${maxDate.toISOString()}`);
  return date;
}

builder.scalarType("DateTime", {
  description: "Date-time as an RFC 3339 string in UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z.",
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseSeqNum(value: unknown): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw badInput(`SeqNum must be an integer from 0 to 2^53-1, got ${JSON.stringify(value)}`);
}

builder.scalarType("SeqNum", {
  description: "A record's position in a channel: an integer from 0 to 2^53-1, serialized as a JSON number.",
  serialize: (value) => value,
  parseValue: parseSeqNum,
  parseLiteral: (ast) => parseSeqNum(ast.kind === Kind.INT ? Number(ast.value) : undefined),
});

function literalToJson(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.ENUM:
      return ast.value;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
  }
}

/** Checked as it enters, before anything walks it recursively (JSON.stringify would overflow the stack). */
function parseJson(value: unknown): unknown {
  const problem = jsonProblem(value);
  if (problem) throw badInput(problem);
  return value;
}

builder.scalarType("JSON", {
  description: `Any JSON value, nested at most ${limits.jsonDepth} levels deep, its strings valid Unicode.`,
  serialize: (value) => value,
  parseValue: parseJson,
  parseLiteral: (ast, variables) => parseJson(literalToJson(ast, variables)),
});

import { Ajv, type ValidateFunction } from "ajv";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";

/**
 * S2's REST API as JSON Schema, taken from the installed @s2-dev/streamstore: its
 * `generated/types.gen.d.ts` is generated (by @hey-api/openapi-ts) from S2's OpenAPI spec
 * (s2-streamstore/s2-specs, s2/v1/openapi.json) at the commit the SDK release pinned, so these
 * schemas follow the SDK version in package-lock.json by construction; no copy of the spec is kept
 * here. What the types leave out (string lengths, patterns, integer minimums) is not checked.
 *
 * Every type alias becomes a definition; object types allow no properties they do not name (S2's
 * serde types are closed), so a field the double invents, or one it misnames, is a violation.
 */

/** JSON Schema, as far as these definitions use it. */
type Schema = Record<string, unknown>;

const require = createRequire(import.meta.url);
/** The SDK's generated types, beside its ESM entry point. */
const typesFile = join(dirname(require.resolve("@s2-dev/streamstore")), "generated", "types.gen.d.ts");

/** A property name as written: identifier, 'quoted' or numeric (a status code). */
function propertyName(name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  throw new Error(`s2-spec: unsupported property name ${name.getText()}`);
}

function toSchema(node: ts.TypeNode): Schema {
  if (ts.isParenthesizedTypeNode(node)) return toSchema(node.type);
  if (ts.isUnionTypeNode(node)) return { anyOf: node.types.map(toSchema) };
  if (ts.isArrayTypeNode(node)) return { type: "array", items: toSchema(node.elementType) };
  if (ts.isTupleTypeNode(node)) {
    const items = node.elements.map((e) => toSchema(e as ts.TypeNode));
    return { type: "array", items, minItems: items.length, maxItems: items.length };
  }
  if (ts.isLiteralTypeNode(node)) {
    const l = node.literal;
    if (l.kind === ts.SyntaxKind.NullKeyword) return { type: "null" };
    if (ts.isStringLiteral(l)) return { const: l.text };
    if (ts.isNumericLiteral(l)) return { const: Number(l.text) };
    if (l.kind === ts.SyntaxKind.TrueKeyword) return { const: true };
    if (l.kind === ts.SyntaxKind.FalseKeyword) return { const: false };
  }
  if (ts.isTypeLiteralNode(node)) {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    let additionalProperties: Schema | boolean = false;
    for (const member of node.members) {
      if (ts.isPropertySignature(member) && member.type) {
        const name = propertyName(member.name);
        properties[name] = toSchema(member.type);
        if (!member.questionToken) required.push(name);
      } else if (ts.isIndexSignatureDeclaration(member)) {
        additionalProperties = toSchema(member.type);
      }
    }
    return { type: "object", properties, required, additionalProperties };
  }
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText();
    if (name === "Array" && node.typeArguments?.length === 1) return { type: "array", items: toSchema(node.typeArguments[0]!) };
    return { $ref: `#/definitions/${name}` };
  }
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: "string" };
    case ts.SyntaxKind.NumberKeyword:
      return { type: "number" };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: "boolean" };
    case ts.SyntaxKind.NeverKeyword:
      return { not: {} };
    case ts.SyntaxKind.UnknownKeyword:
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.VoidKeyword:
      return {};
  }
  // Anything else (indexed access types such as `XErrors[keyof XErrors]`) is never referred to here.
  return {};
}

/** Every exported type alias of the SDK's generated types, as definitions. */
function definitions(): Record<string, Schema> {
  const source = ts.createSourceFile(typesFile, readFileSync(typesFile, "utf8"), ts.ScriptTarget.Latest, true);
  const out: Record<string, Schema> = {};
  for (const statement of source.statements) if (ts.isTypeAliasDeclaration(statement)) out[statement.name.text] = toSchema(statement.type);
  return out;
}

/**
 * The operations the double serves, by their name in the SDK's types (`{name}Data` holds the
 * request, `{name}Responses` and `{name}Errors` the answers by status).
 */
export type S2Operation =
  | "CreateBasin"
  | "DeleteBasin"
  | "ListAccessTokens"
  | "IssueAccessToken"
  | "RevokeAccessToken"
  | "CreateStream"
  | "DeleteStream"
  | "GetStreamConfig"
  | "ReconfigureStream"
  | "Read"
  | "Append"
  | "CheckTail";

/**
 * Answers S2 gives to any request besides those an operation lists, each with an ErrorInfo body:
 * 422 for a request it cannot take (the SDK's own e2e tests expect it, for a read's `until`, though
 * the spec lists none), 429 `rate_limited`, 5xx such as 502 `hot_server` and 503; all are the ones
 * the SDK retries or reports by code.
 */
const ANY_OPERATION_STATUSES = new Set([422, 429, 500, 502, 503, 504]);

export interface SpecValidator {
  /** Problems with a request's JSON body (undefined: none). */
  request(op: S2Operation, body: unknown): string | undefined;
  /** Problems with a request's query string, its values read as the types say. */
  query(op: S2Operation, query: URLSearchParams): string | undefined;
  /** Problems with an answer: a status the operation does not list, or a body not of its schema. */
  response(op: S2Operation, status: number, body: unknown): string | undefined;
  /** Problems with one SSE event of a read session (`data` parsed as JSON, except an error event's text). */
  event(event: { event: string; data: unknown; id?: string }): string | undefined;
}

let shared: SpecValidator | undefined;

/** The validator, built once per test process (parsing the SDK's types takes a moment). */
export function s2Spec(): SpecValidator {
  return (shared ??= build());
}

function build(): SpecValidator {
  const defs = definitions();
  // strict: false: the definitions are generated, and tuple items without additionalItems are intended.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const coercing = new Ajv({ strict: false, allErrors: true, coerceTypes: true });
  for (const a of [ajv, coercing]) a.addSchema({ $id: "s2", definitions: defs });
  const cache = new Map<string, ValidateFunction>();
  const compiled = (a: Ajv, pointer: string) => {
    const key = `${a === ajv ? "" : "q:"}${pointer}`;
    let v = cache.get(key);
    if (!v) cache.set(key, (v = a.compile({ $ref: `s2#/definitions/${pointer}` })));
    return v;
  };
  const check = (a: Ajv, pointer: string, value: unknown, what: string) => {
    const v = compiled(a, pointer);
    return v(value) ? undefined : `${what}: ${a.errorsText(v.errors, { dataVar: "body" })} in ${JSON.stringify(value).slice(0, 300)}`;
  };
  const statuses = (type: string) => Object.keys((defs[type]?.properties as Record<string, Schema> | undefined) ?? {}).map(Number);

  return {
    request(op, body) {
      const data = defs[`${op}Data`]!;
      if (body === undefined) return (data.required as string[]).includes("body") ? `${op} request: no body` : undefined;
      return check(ajv, `${op}Data/properties/body`, body, `${op} request`);
    },
    query(op, query) {
      const given: Record<string, string> = Object.fromEntries(query);
      const data = defs[`${op}Data`]!.properties as Record<string, Schema>;
      if (!data.query) return Object.keys(given).length ? `${op} takes no query: ${query}` : undefined;
      return check(coercing, `${op}Data/properties/query`, given, `${op} query`);
    },
    response(op, status, body) {
      for (const type of [`${op}Responses`, `${op}Errors`]) {
        // An answer without a body is null here: only a void or unknown body (204, 202) takes it.
        if (statuses(type).includes(status)) return check(ajv, `${type}/properties/${status}`, body ?? null, `${op} ${status} answer`);
      }
      if (ANY_OPERATION_STATUSES.has(status)) return check(ajv, "ErrorInfo", body ?? null, `${op} ${status} answer`);
      return `${op}: status ${status} is not an answer S2's API gives (the operation lists ${[...statuses(`${op}Responses`), ...statuses(`${op}Errors`)].join(", ")})`;
    },
    event(event) {
      return check(ajv, "ReadEvent", event, `read session ${event.event} event`);
    },
  };
}

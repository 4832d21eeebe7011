/**
 * Access-token scopes as S2 applies them (its API's AccessTokenScope), for the test double: which
 * basin, stream, token id and operation a token may touch, and what a token may issue. A resource
 * set left out (or null) matches nothing; `{exact: ""}` matches nothing and `{prefix: ""}` everything.
 */

export type ResourceSet = { exact: string } | { prefix: string };

/** The operations the double serves, by S2's names (its API's `Operation`). */
export type S2Op = "create-basin" | "delete-basin" | "list-access-tokens" | "issue-access-token" | "revoke-access-token" | "create-stream" | "delete-stream" | "get-stream-config" | "reconfigure-stream" | "check-tail" | "append" | "read" | "trim" | "fence";

interface ReadWrite {
  read?: boolean;
  write?: boolean;
}

export interface TokenScope {
  basins?: ResourceSet | null;
  streams?: ResourceSet | null;
  access_tokens?: ResourceSet | null;
  ops?: string[] | null;
  op_groups?: { account?: ReadWrite | null; basin?: ReadWrite | null; stream?: ReadWrite | null } | null;
}

/** The operations each op group stands for (S2's grouping of its operations into account, basin and stream, read and write). */
const GROUPS: Record<"account" | "basin" | "stream", Record<"read" | "write", S2Op[]>> = {
  account: { read: ["list-access-tokens"], write: ["create-basin", "delete-basin", "issue-access-token", "revoke-access-token"] },
  basin: { read: ["get-stream-config"], write: ["create-stream", "delete-stream", "reconfigure-stream"] },
  stream: { read: ["read", "check-tail"], write: ["append", "trim", "fence"] },
};

/** Every operation a scope allows: its ops and those of its op groups. */
export function allowedOps(scope: TokenScope): Set<string> {
  const ops = new Set(scope.ops ?? []);
  for (const level of ["account", "basin", "stream"] as const) {
    const group = scope.op_groups?.[level];
    if (group?.read) for (const op of GROUPS[level].read) ops.add(op);
    if (group?.write) for (const op of GROUPS[level].write) ops.add(op);
  }
  return ops;
}

export function matches(set: ResourceSet | null | undefined, name: string): boolean {
  if (!set) return false;
  if ("exact" in set) return set.exact !== "" && set.exact === name;
  return name.startsWith(set.prefix);
}

/** Whether every name `child` matches, `parent` matches too. */
function within(child: ResourceSet | null | undefined, parent: ResourceSet | null | undefined): boolean {
  if (!child || ("exact" in child && child.exact === "")) return true;
  if (!parent) return false;
  if ("exact" in parent) return "exact" in child && child.exact === parent.exact;
  return ("exact" in child ? child.exact : child.prefix).startsWith(parent.prefix);
}

/** The scope of the double's root token: everything. */
export const ROOT_SCOPE: TokenScope = {
  basins: { prefix: "" },
  streams: { prefix: "" },
  access_tokens: { prefix: "" },
  op_groups: { account: { read: true, write: true }, basin: { read: true, write: true }, stream: { read: true, write: true } },
};

/**
 * Why `scope` may not do `op` (undefined: it may). `basin` and `stream` are what the request
 * touches (a stream only for stream and record operations), `tokenId` the token an issue or
 * revoke names.
 */
export function refusal(scope: TokenScope, op: S2Op, target: { basin?: string; stream?: string; tokenId?: string }): string | undefined {
  if (!allowedOps(scope).has(op)) return `operation ${op} is not in the token's scope`;
  if (target.basin !== undefined && !matches(scope.basins, target.basin)) return `basin ${target.basin} is not in the token's scope`;
  if (target.stream !== undefined && !matches(scope.streams, target.stream)) return `stream ${target.stream} is not in the token's scope`;
  if (target.tokenId !== undefined && !matches(scope.access_tokens, target.tokenId)) return `access token ${target.tokenId} is not in the token's scope`;
  return undefined;
}

/** Why a token of `scope` may not issue one of `child` (undefined: it may): a token never grants more than it has. */
export function escalation(scope: TokenScope, child: TokenScope): string | undefined {
  const have = allowedOps(scope);
  const extra = [...allowedOps(child)].filter((op) => !have.has(op));
  if (extra.length > 0) return `the new token's operations ${extra.join(", ")} are not in the issuer's scope`;
  for (const field of ["basins", "streams", "access_tokens"] as const) {
    if (!within(child[field], scope[field])) return `the new token's ${field} are not within the issuer's`;
  }
  return undefined;
}

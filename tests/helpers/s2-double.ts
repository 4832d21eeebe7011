import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// The SDK's own protobuf messages (not among its package exports, hence the path): it appends a
// batch holding a bytes record, such as a trim command, as protobuf.
import { AppendAck, AppendInput } from "../../node_modules/@s2-dev/streamstore/dist/esm/generated/proto/s2.js";
import { escalation, refusal, ROOT_SCOPE, type S2Op, type TokenScope } from "./s2-double-scope.js";
import { s2Spec, type S2Operation } from "./s2-spec.js";

const MiB = 1024 * 1024;

/**
 * A test double of the part of S2's REST API that @s2-dev/streamstore uses over fetch (HTTP/1.1):
 * create and delete basin, create, configure and delete stream, append (JSON, or protobuf for batches with bytes records;
 * with match_seq_num), read (JSON, and SSE read sessions with batch, ping and error events; from a
 * seq_num, a timestamp or a tail offset), check tail, list, issue and revoke access tokens.
 *
 * Held to S2's API: every request body and query it takes, and every answer and SSE event it gives,
 * is validated against the schemas of the installed SDK's generated types (s2-spec.ts); a violation
 * is recorded, and `close()` fails with them, so any suite that meets one fails.
 *
 * Mirrors S2's rules: 1000 records and 1 MiB metered per append, 1000 records and 1 MiB (or less if
 * asked) per unary read, dense seqNums from 0, 412 on a seqNum mismatch, 416 with the tail for a
 * unary read at or past the tail without `wait` (clamp or not), token scopes (basin, exact or
 * prefix stream, operations, expiry capped at the issuer's) answered 403 `permission_denied`. A
 * trim command record (one header with an empty name and value "trim", the body a big-endian u64
 * seqNum) takes a seqNum like any record and removes the records below its seqNum at once (S2 does
 * so eventually); reads then start at the first record left at or after the one asked for. Basins
 * other than those it was given answer 404 `basin_not_found`, streams not there 404
 * `stream_not_found`. Requests may name the basin by the `s2-basin` header or by a path
 * `/basins/{basin}/v1/...`, and account requests may come under `/account/v1/...`: one double then
 * stands in for S2's separate account and basin endpoints, and logs which was used.
 *
 * Knobs for what a real deployment meets: answers of 429 `rate_limited` or 502 `hot_server`, a lost
 * answer (stored, then the connection dropped), an SSE `error` event, dropped read sessions, a
 * direct writer's record landing first, a clock moved on (token expiry), retention applied.
 */
interface Rec {
  seq_num: number;
  timestamp: number;
  body: string;
  headers: [string, string][];
}

/** S2's metered size of a record: its body and headers, 2 bytes per header and 8 per record. */
const metered = (r: Rec) => meteredBytes(Buffer.byteLength(r.body), r.headers);
const meteredBytes = (body: number, headers: [string, string][]) =>
  8 + body + headers.reduce((n, [k, v]) => n + 2 + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/** A unary read as the double answered it. */
export interface ReadLog {
  from: number;
  count: number;
  bytes: number;
  returned: number;
}

export interface IssuedToken {
  /** The id the issuer chose, which revokes it. */
  id: string;
  token: string;
  scope: TokenScope;
  /** When it stops working: what was asked, capped at the issuer's own expiry (S2's rule). */
  expires_at?: string;
  /** Set once revoked: S2 refuses the token from then on. */
  revoked?: boolean;
}

/** A stream's configuration as S2's API has it (snake_case), every field filled in. */
export interface WireStreamConfig {
  retention_policy: { age: number } | { infinite: Record<string, never> };
  delete_on_empty: { min_age_secs: number };
  [field: string]: unknown;
}

/** S2's own defaults for what neither the request nor the basin sets: records kept 7 days, delete-on-empty off. */
const S2_DEFAULT_STREAM_CONFIG: WireStreamConfig = { retention_policy: { age: 7 * 24 * 3600 }, delete_on_empty: { min_age_secs: 0 } };

/** A stream: its records by seqNum (trimmed ones dropped), where the records left begin, its configuration and birth (ms). */
type Stream = Rec[] & { trimmedBefore?: number; config: WireStreamConfig; createdAt: number };

/** The fields of a stream configuration given, over `base`: a field left out or null keeps base's. */
const withConfig = (base: WireStreamConfig, given: Record<string, unknown> | null | undefined): WireStreamConfig => {
  const out: WireStreamConfig = { ...base };
  for (const [k, v] of Object.entries(given ?? {})) if (v !== null && v !== undefined) out[k] = v;
  return out;
};

export interface S2DoubleOptions {
  /** The basins that exist; default `test-basin`, the one `env` names. */
  basins?: string[];
  /** The basins' create_stream_on_append: an append to a stream not there makes it, with the basin's default config; default false, as S2's. */
  createStreamOnAppend?: boolean;
  /** The basins' default stream config (snake_case, partial); default none: S2's defaults (7 days, delete-on-empty off). */
  defaultStreamConfig?: Partial<WireStreamConfig>;
  /** When the root token expires (ms since the epoch); default never. Tokens it issues expire no later. */
  rootExpiresAt?: number;
  /** How often a read session sends a ping (with the tail); default 1000 ms. */
  pingIntervalMs?: number;
}

/** A request the double serves: the operation (by the SDK types' name and S2's), and what it touches. */
interface Route {
  op: S2Operation;
  s2op: S2Op;
  stream?: string;
  tokenId?: string;
  /** The basin an account operation names. */
  basin?: string;
  /** Whether the operation is the basin's (needs the basin to exist and be in scope). */
  inBasin: boolean;
}

function route(method: string, path: string): Route | undefined {
  const name = (m: RegExpExecArray) => decodeURIComponent(m[1]!);
  if (path === "/access-tokens" && method === "GET") return { op: "ListAccessTokens", s2op: "list-access-tokens", inBasin: false };
  if (path === "/access-tokens" && method === "POST") return { op: "IssueAccessToken", s2op: "issue-access-token", inBasin: false };
  if (path === "/basins" && method === "POST") return { op: "CreateBasin", s2op: "create-basin", inBasin: false };
  let m = /^\/basins\/([^/]+)$/.exec(path);
  if (m && method === "DELETE") return { op: "DeleteBasin", s2op: "delete-basin", basin: name(m), inBasin: false };
  m = /^\/access-tokens\/([^/]+)$/.exec(path);
  if (m && method === "DELETE") return { op: "RevokeAccessToken", s2op: "revoke-access-token", tokenId: name(m), inBasin: false };
  if (path === "/streams" && method === "POST") return { op: "CreateStream", s2op: "create-stream", inBasin: true };
  m = /^\/streams\/([^/]+)$/.exec(path);
  if (m && method === "DELETE") return { op: "DeleteStream", s2op: "delete-stream", stream: name(m), inBasin: true };
  if (m && method === "GET") return { op: "GetStreamConfig", s2op: "get-stream-config", stream: name(m), inBasin: true };
  if (m && method === "PATCH") return { op: "ReconfigureStream", s2op: "reconfigure-stream", stream: name(m), inBasin: true };
  m = /^\/streams\/([^/]+)\/records\/tail$/.exec(path);
  if (m && method === "GET") return { op: "CheckTail", s2op: "check-tail", stream: name(m), inBasin: true };
  m = /^\/streams\/([^/]+)\/records$/.exec(path);
  if (m && method === "GET") return { op: "Read", s2op: "read", stream: name(m), inBasin: true };
  if (m && method === "POST") return { op: "Append", s2op: "append", stream: name(m), inBasin: true };
  return undefined;
}

/** A fault to answer with instead of serving: S2's throttling answers, which guarantee nothing was done. */
interface Fault {
  status: 429 | 502;
  code: "rate_limited" | "hot_server";
  op?: S2Operation;
  left: number;
}

export async function startS2Double(accessToken: string, options: S2DoubleOptions = {}) {
  const spec = s2Spec();
  /** Each basin's create_stream_on_append and default stream config. */
  const basins = new Map<string, { createStreamOnAppend: boolean; defaultConfig: WireStreamConfig }>();
  const given = { createStreamOnAppend: options.createStreamOnAppend ?? false, defaultConfig: withConfig(S2_DEFAULT_STREAM_CONFIG, options.defaultStreamConfig) };
  for (const name of options.basins ?? ["test-basin"]) basins.set(name, given);
  const streams = new Map<string, Stream>();
  const newStream = (config: WireStreamConfig): Stream => Object.assign([], { config, createdAt: now() });
  const waiters = new Map<string, Set<() => void>>();
  const issued: IssuedToken[] = [];
  const requests: string[] = [];
  const reads: ReadLog[] = [];
  const violations: string[] = [];
  const sessions = new Set<ServerResponse>();
  const faults: Fault[] = [];
  let clockOffset = 0;
  let failNextAppendAfterCommit = false;
  let afterLostAppend: (() => void) | undefined;
  let interposed: string | undefined;

  /** The double's clock (ms): real time, moved on by advanceClock. */
  const now = () => Date.now() + clockOffset;
  const root: IssuedToken = { id: "root", token: accessToken, scope: ROOT_SCOPE, ...(options.rootExpiresAt !== undefined && { expires_at: new Date(options.rootExpiresAt).toISOString() }) };
  /** A token counts until it is revoked or expires, as on S2. */
  const live = (t: IssuedToken) => !t.revoked && (!t.expires_at || Date.parse(t.expires_at) > now());

  const key = (basin: string, stream: string) => `${basin}/${stream}`;
  const tailOf = (recs: Rec[]) => ({ seq_num: recs.length, timestamp: recs.at(-1)?.timestamp ?? 0 });
  /** Records from `at` on, the trimmed ones left out: a read below the first record left starts there. */
  const from = (recs: Stream, at: number) => recs.slice(Math.max(at, recs.trimmedBefore ?? 0));
  const raw = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  /** Applies a trim command record: records below its seqNum go (never back). */
  const applyCommand = (recs: Stream, r: { headers: [string, string][]; bytes: Buffer }) => {
    if (isTrim(r)) {
      const before = Math.min(Number(r.bytes.readBigUInt64BE(0)), recs.length);
      recs.trimmedBefore = Math.max(recs.trimmedBefore ?? 0, before);
    }
  };
  const isTrim = (r: { headers: [string, string][]; bytes: Buffer }) => r.headers.length === 1 && r.headers[0]![0] === "" && r.headers[0]![1] === "trim" && r.bytes.length === 8;
  const wake = (k: string) => {
    for (const w of waiters.get(k) ?? []) w();
  };
  const violation = (what: string | undefined) => {
    if (what) violations.push(what);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://double");
    requests.push(`${req.method} ${url.pathname}`);
    const inPath = /^\/basins\/([^/]+)(\/v1\/.*)$/.exec(url.pathname);
    const basin = inPath ? decodeURIComponent(inPath[1]!) : String(req.headers["s2-basin"] ?? "default");
    const path = (inPath ? inPath[2]! : url.pathname.replace(/^\/account(?=\/v1\/)/, "")).replace(/^\/v1/, "");
    const r = route(req.method ?? "GET", path);
    /** Answers, after checking the answer against the operation's schema. */
    const reply = (status: number, body?: unknown) => {
      if (r) violation(spec.response(r.op, status, body));
      if (body === undefined) {
        res.writeHead(status);
        return res.end();
      }
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const json = async () => {
      const text = (await raw(req)).toString("utf8");
      const body: unknown = text === "" ? undefined : JSON.parse(text);
      if (r) violation(spec.request(r.op, body));
      return body as Record<string, unknown> | undefined;
    };
    try {
      if (!r) {
        violation(`${req.method} ${url.pathname}: not an operation of S2's API the double serves`);
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ code: "not_found", message: path }));
      }
      const auth = req.headers.authorization?.replace(/^Bearer /, "");
      const token = auth === accessToken ? root : issued.find((t) => t.token === auth);
      if (!token || !live(token)) return reply(403, { code: "permission_denied", message: token ? "the token is revoked or expired" : "unknown token" });
      const fault = faults.find((f) => f.left > 0 && (f.op === undefined || f.op === r.op));
      if (fault) {
        fault.left--;
        return reply(fault.status, { code: fault.code, message: `the double answers ${fault.code}` });
      }
      if (r.op === "Read") violation(spec.query(r.op, url.searchParams));

      if (r.op === "ListAccessTokens") {
        violation(spec.query(r.op, url.searchParams));
        const prefix = url.searchParams.get("prefix") ?? "";
        const denied = refusal(token.scope, r.s2op, { tokenId: prefix });
        if (denied) return reply(403, { code: "permission_denied", message: denied });
        const after = url.searchParams.get("start_after") ?? "";
        const limit = Number(url.searchParams.get("limit") ?? 1000);
        const found = issued.filter((t) => t.id.startsWith(prefix) && t.id > after).sort((a, b) => (a.id < b.id ? -1 : 1));
        const page = found.slice(0, limit).map((t) => ({ id: t.id, auto_prefix_streams: false, scope: t.scope, expires_at: t.expires_at ?? null }));
        return reply(200, { access_tokens: page, has_more: found.length > limit });
      }
      if (r.op === "IssueAccessToken") {
        const b = (await json()) as { id: string; scope: TokenScope; expires_at?: string | null };
        const denied = refusal(token.scope, r.s2op, { tokenId: b.id }) ?? escalation(token.scope, b.scope);
        if (denied) return reply(403, { code: "permission_denied", message: denied });
        if (issued.some((t) => t.id === b.id)) return reply(409, { code: "resource_already_exists", message: "access token id taken" });
        // Without an expiry the new token takes its issuer's; with one, never later than it.
        const asked = b.expires_at ? Date.parse(b.expires_at) : Infinity;
        const cap = token.expires_at ? Date.parse(token.expires_at) : Infinity;
        const expires = Math.min(asked, cap);
        const t = `s2tok_${issued.length}_${Math.random().toString(36).slice(2)}`;
        issued.push({ id: b.id, token: t, scope: b.scope, ...(Number.isFinite(expires) && { expires_at: new Date(expires).toISOString() }) });
        return reply(201, { access_token: t });
      }
      if (r.op === "CreateBasin") {
        const b = (await json()) as { basin: string; config?: { create_stream_on_append?: boolean; default_stream_config?: Record<string, unknown> | null } | null };
        const denied = refusal(token.scope, r.s2op, { basin: b.basin });
        if (denied) return reply(403, { code: "permission_denied", message: denied });
        if (basins.has(b.basin)) return reply(409, { code: "resource_already_exists", message: "basin exists" });
        basins.set(b.basin, { createStreamOnAppend: b.config?.create_stream_on_append ?? false, defaultConfig: withConfig(S2_DEFAULT_STREAM_CONFIG, b.config?.default_stream_config) });
        return reply(201, { name: b.basin, created_at: new Date(now()).toISOString() });
      }
      if (r.op === "DeleteBasin") {
        const denied = refusal(token.scope, r.s2op, { basin: r.basin });
        if (denied) return reply(403, { code: "permission_denied", message: denied });
        if (!basins.delete(r.basin!)) return reply(404, { code: "basin_not_found", message: `no basin ${r.basin}` });
        for (const k of [...streams.keys()]) if (k.startsWith(`${r.basin}/`)) streams.delete(k);
        return reply(202);
      }
      if (r.op === "RevokeAccessToken") {
        const denied = refusal(token.scope, r.s2op, { tokenId: r.tokenId });
        if (denied) return reply(403, { code: "permission_denied", message: denied });
        const found = issued.find((t) => t.id === r.tokenId);
        if (!found) return reply(404, { code: "access_token_not_found", message: "no such token" });
        found.revoked = true;
        return reply(204);
      }

      const created = r.op === "CreateStream" ? ((await json()) as { stream: string; config?: Record<string, unknown> | null }) : undefined;
      const stream = r.stream ?? created!.stream;
      const denied = refusal(token.scope, r.s2op, { basin, stream });
      if (denied) return reply(403, { code: "permission_denied", message: denied });
      const settings = basins.get(basin);
      if (!settings) return reply(404, { code: "basin_not_found", message: `no basin ${basin}` });
      const k = key(basin, stream);

      if (created) {
        if (streams.has(k)) return reply(409, { code: "resource_already_exists", message: "stream exists" });
        streams.set(k, newStream(withConfig(settings.defaultConfig, created.config)));
        return reply(201, { name: stream, created_at: new Date(now()).toISOString(), deleted_at: null });
      }
      if (!streams.has(k) && r.op === "Append" && settings.createStreamOnAppend) streams.set(k, newStream(settings.defaultConfig));
      const recs = streams.get(k);
      if (!recs) return reply(404, { code: "stream_not_found", message: "no such stream" });

      if (r.op === "DeleteStream") {
        streams.delete(k);
        return reply(202);
      }
      if (r.op === "GetStreamConfig") return reply(200, recs.config);
      if (r.op === "ReconfigureStream") {
        recs.config = withConfig(recs.config, await json());
        return reply(200, recs.config);
      }
      if (r.op === "CheckTail") return reply(200, { tail: tailOf(recs) });
      if (r.op === "Append") return await append(req, res, reply, json, token, k, recs);
      return read(req, res, reply, url, k, recs);
    } catch (error) {
      reply(500, { code: "internal", message: String(error) });
    }
  });

  type Reply = (status: number, body?: unknown) => void;

  async function append(req: IncomingMessage, res: ServerResponse, reply: Reply, json: () => Promise<Record<string, unknown> | undefined>, token: IssuedToken, k: string, recs: Stream) {
    const protobuf = req.headers["content-type"] === "application/protobuf";
    let b: { records: { bytes: Buffer; headers: [string, string][] }[]; match_seq_num?: number | null };
    if (protobuf) {
      const input = AppendInput.fromBinary(await raw(req));
      b = {
        records: input.records.map((r) => ({
          bytes: Buffer.from(r.body),
          headers: r.headers.map((h) => [Buffer.from(h.name).toString("utf8"), Buffer.from(h.value).toString("utf8")] as [string, string]),
        })),
        match_seq_num: input.matchSeqNum === undefined ? null : Number(input.matchSeqNum),
      };
      // The same batch as JSON (bodies as text) is held to the JSON schema too.
      violation(spec.request("Append", { records: b.records.map((r) => ({ body: r.bytes.toString("latin1"), headers: r.headers })), match_seq_num: b.match_seq_num }));
    } else {
      const j = (await json()) as { records: { body?: string; headers?: [string, string][] }[]; match_seq_num?: number | null };
      b = { records: j.records.map((r) => ({ bytes: Buffer.from(r.body ?? "", "utf8"), headers: r.headers ?? [] })), match_seq_num: j.match_seq_num };
    }
    // A trim command is an operation of its own: a token for appends alone cannot trim.
    if (b.records.some(isTrim)) {
      const denied = refusal(token.scope, "trim", {});
      if (denied) return reply(403, { code: "permission_denied", message: denied });
    }
    // S2 meters headers too: 2 bytes per header besides its name and value.
    const size = b.records.reduce((n, r) => n + meteredBytes(r.bytes.length, r.headers), 0);
    if (b.records.length === 0 || b.records.length > 1000 || size > MiB) return reply(422, { code: "invalid", message: "batch limits" });
    if (interposed !== undefined) {
      recs.push({ seq_num: recs.length, timestamp: now(), body: interposed, headers: [] });
      interposed = undefined;
      wake(k);
    }
    if (b.match_seq_num != null && b.match_seq_num !== recs.length) return reply(412, { seq_num_mismatch: recs.length });
    const start = { seq_num: recs.length, timestamp: now() };
    for (const r of b.records) {
      // A command's body is binary; kept as latin1 text, one character per byte.
      recs.push({ seq_num: recs.length, timestamp: start.timestamp, body: r.bytes.toString(r.headers[0]?.[0] === "" ? "latin1" : "utf8"), headers: r.headers });
      applyCommand(recs, r);
    }
    wake(k);
    if (failNextAppendAfterCommit) {
      failNextAppendAfterCommit = false;
      afterLostAppend?.();
      afterLostAppend = undefined;
      return req.socket.destroy();
    }
    const ack = { start, end: tailOf(recs), tail: tailOf(recs) };
    if (protobuf) {
      violation(spec.response("Append", 200, ack));
      const position = (p: { seq_num: number; timestamp: number }) => ({ seqNum: BigInt(p.seq_num), timestamp: BigInt(p.timestamp) });
      res.writeHead(200, { "content-type": "application/protobuf" });
      return res.end(Buffer.from(AppendAck.toBinary({ start: position(ack.start), end: position(ack.end), tail: position(ack.tail) })));
    }
    return reply(200, ack);
  }

  async function read(req: IncomingMessage, res: ServerResponse, reply: Reply, url: URL, k: string, recs: Stream) {
    const q = url.searchParams;
    const tail = recs.length;
    // From a seq_num, a number of records before the tail, or the first record stamped at or after a timestamp (ms).
    const timestamp = q.get("timestamp");
    const tailOffset = q.get("tail_offset");
    let start =
      timestamp !== null
        ? (from(recs, 0).find((r) => r.timestamp >= Number(timestamp))?.seq_num ?? tail)
        : tailOffset !== null
          ? Math.max(0, tail - Number(tailOffset))
          : Number(q.get("seq_num") ?? 0);
    const clamp = q.get("clamp") === "true";
    if (start > tail && !clamp) return reply(416, { tail: tailOf(recs) });
    start = Math.min(start, tail);
    const count = Math.min(Number(q.get("count") ?? 1000), 1000);
    const slice = (at: number) => from(recs, at).slice(0, count);
    const wait = Number(q.get("wait") ?? 0);

    if (req.headers.accept !== "text/event-stream") {
      // A unary read at the tail (or below it, all trimmed) has nothing to give: 416, unless asked to wait for records.
      const first = () => Math.max(start, recs.trimmedBefore ?? 0);
      if (first() >= recs.length && wait > 0) await waitFor(k, wait * 1000);
      if (first() >= recs.length) return reply(416, { tail: tailOf(recs) });
      // It stops at `count` records or `bytes` metered bytes (both at most S2's 1000 / 1 MiB),
      // returning only records that fit: possibly none.
      const bytes = Math.min(Number(q.get("bytes") ?? MiB), MiB);
      const records: Rec[] = [];
      let total = 0;
      for (const r of slice(start)) {
        total += metered(r);
        if (total > bytes) break;
        records.push(r);
      }
      reads.push({ from: start, count, bytes, returned: records.length });
      return reply(200, { records, tail: tailOf(recs) });
    }

    // A read session: what is there, then each new batch live, pings (with the tail) in between.
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    sessions.add(res);
    const event = (name: string, data: unknown, id?: string) => {
      violation(spec.event({ event: name, data, ...(id !== undefined && { id }) }));
      res.write(`event: ${name}\n${id !== undefined ? `id: ${id}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    };
    let next = start;
    let sentRecords = 0;
    let sentBytes = 0;
    const send = () => {
      while (next < recs.length) {
        const batch = slice(next);
        if (batch.length === 0) break;
        next = batch.at(-1)!.seq_num + 1;
        sentRecords += batch.length;
        sentBytes += batch.reduce((n, r) => n + metered(r), 0);
        // S2's event id: the next seqNum, and the records and metered bytes sent so far (how a session resumes).
        event("batch", { records: batch, tail: tailOf(recs) }, `${next},${sentRecords},${sentBytes}`);
      }
    };
    send();
    const set = waiters.get(k) ?? new Set();
    waiters.set(k, set);
    set.add(send);
    const ping = setInterval(() => event("ping", { timestamp: now(), tail: tailOf(recs) }), options.pingIntervalMs ?? 1_000);
    const errorEvent = (message: string) => {
      event("error", message);
      res.end();
    };
    errorListeners.add(errorEvent);
    req.on("close", () => {
      clearInterval(ping);
      set.delete(send);
      sessions.delete(res);
      errorListeners.delete(errorEvent);
    });
  }

  const errorListeners = new Set<(message: string) => void>();

  /** Resolves once a record lands on stream `k`, or after `ms`. */
  function waitFor(k: string, ms: number) {
    return new Promise<void>((resolve) => {
      const set = waiters.get(k) ?? new Set();
      waiters.set(k, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    /** The service's configuration for this double. */
    env: { S2_ACCESS_TOKEN: accessToken, S2_BASIN: "test-basin", S2_ENDPOINT: endpoint },
    streams,
    issued,
    requests,
    /** Every unary read, in order: what was asked and how many records came back. */
    reads,
    /** Where the double's requests or answers left S2's API (see s2-spec.ts); close() fails with them. */
    violations,
    /** A stream's configuration as the double holds it (undefined: no such stream). */
    streamConfig: (stream: string, basin = "test-basin") => streams.get(key(basin, stream))?.config,
    /**
     * Applies each stream's retention as S2 would at time `now` (ms): records older than an `age`
     * policy go, and a stream left empty with delete-on-empty on (and at least that old) is deleted.
     */
    applyRetention(at: number) {
      for (const [k, recs] of streams) {
        const policy = recs.config.retention_policy;
        if (!("age" in policy)) continue;
        const keep = recs.findIndex((r) => r.seq_num >= (recs.trimmedBefore ?? 0) && r.timestamp >= at - policy.age * 1000);
        recs.trimmedBefore = keep === -1 ? recs.length : keep;
        const minAge = recs.config.delete_on_empty.min_age_secs;
        if (recs.trimmedBefore === recs.length && minAge > 0 && at - recs.createdAt >= minAge * 1000) streams.delete(k);
      }
    },
    /** Moves the double's clock on by `ms`: tokens expire by it. */
    advanceClock(ms: number) {
      clockOffset += ms;
    },
    /**
     * The next `times` requests (of operation `op`, else any) are answered 429 `rate_limited` or
     * 502 `hot_server` without being served: S2's answers that guarantee nothing was done.
     */
    throttle(code: "rate_limited" | "hot_server", times: number, op?: S2Operation) {
      faults.push({ status: code === "rate_limited" ? 429 : 502, code, left: times, ...(op && { op }) });
    },
    /** Ends what throttle() asked for: requests are served again. */
    unthrottle() {
      faults.length = 0;
    },
    /** The next append is stored, then its connection dropped before the answer: a lost response. `then` runs as it is lost. */
    loseNextAppendResponse(then?: () => void) {
      failNextAppendAfterCommit = true;
      afterLostAppend = then;
    },
    /** Another writer's record lands just before the next append arrives: a direct writer racing the service. */
    interposeBeforeNextAppend(body: string) {
      interposed = body;
    },
    /** Open read sessions, each an SSE response. */
    readSessions: () => sessions.size,
    /** Ends every open read session with an SSE `error` event (which the SDK takes as retryable). */
    sendReadSessionError(message = "the double ends this read session") {
      for (const listener of [...errorListeners]) listener(message);
    },
    /** Drops every open read session's connection, as a network fault would. */
    dropReadSessions() {
      for (const res of [...sessions]) res.socket?.destroy();
    },
    /** Stops the server; fails with the API violations met, if any. */
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close(() => (violations.length ? reject(new Error(`the S2 double met requests or answers outside S2's API:\n${[...new Set(violations)].join("\n")}`)) : resolve()));
      }),
  };
}

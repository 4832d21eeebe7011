import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// The SDK's own protobuf messages (not among its package exports, hence the path): it appends a
// batch holding a bytes record, such as a trim command, as protobuf.
import { AppendAck, AppendInput } from "../../node_modules/@s2-dev/streamstore/dist/esm/generated/proto/s2.js";

const MiB = 1024 * 1024;

/**
 * A test double of the part of S2's REST API that @s2-dev/streamstore uses over fetch (HTTP/1.1):
 * create and delete stream, append (JSON, or protobuf for batches with bytes records; with
 * match_seq_num), read (JSON, and SSE read sessions with batch and ping events; from a seq_num or
 * a timestamp), check tail, issue access token. Mirrors S2's limits: 1000 records and 1 MiB per
 * append, 1000 records and 1 MiB (or less if asked) per unary read, dense seqNums from 0, 412 on a
 * seqNum mismatch, 416 past the tail without clamp. A trim command record (one header with an
 * empty name and value "trim", the body a big-endian u64 seqNum) takes a seqNum like any record
 * and removes the records below its seqNum at once (S2 does so eventually); reads start at the
 * first record left. Basins other than those it was given answer 404 `basin_not_found`, streams not
 * there 404 `stream_not_found`, as S2 does. Requests may name the basin by the `s2-basin` header or
 * by a path `/basins/{basin}/v1/...`, and account requests may come under `/account/v1/...`: one
 * double then stands in for S2's separate account and basin endpoints, and logs which was used.
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
  scope: unknown;
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
}

export async function startS2Double(accessToken: string, options: S2DoubleOptions = {}) {
  const basins = new Set(options.basins ?? ["test-basin"]);
  const streams = new Map<string, Stream>();
  const basinDefault = withConfig(S2_DEFAULT_STREAM_CONFIG, options.defaultStreamConfig);
  const newStream = (config: WireStreamConfig): Stream => Object.assign([], { config, createdAt: Date.now() });
  const waiters = new Map<string, Set<() => void>>();
  const issued: IssuedToken[] = [];
  const requests: string[] = [];
  const reads: ReadLog[] = [];
  let failNextAppendAfterCommit = false;
  let interposed: string | undefined;

  const key = (basin: string, stream: string) => `${basin}/${stream}`;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const tailOf = (recs: Rec[]) => ({ seq_num: recs.length, timestamp: recs.at(-1)?.timestamp ?? 0 });
  /** Records from `at` on, the trimmed ones left out. */
  const from = (recs: Stream, at: number) => recs.slice(Math.max(at, recs.trimmedBefore ?? 0));
  const raw = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  /** Applies a trim command record: records below its seqNum go (never back). */
  const applyCommand = (recs: Stream, r: { headers: [string, string][]; bytes: Buffer }) => {
    if (r.headers.length === 1 && r.headers[0]![0] === "" && r.headers[0]![1] === "trim" && r.bytes.length === 8) {
      const before = Math.min(Number(r.bytes.readBigUInt64BE(0)), recs.length);
      recs.trimmedBefore = Math.max(recs.trimmedBefore ?? 0, before);
    }
  };
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  };
  const wake = (k: string) => {
    for (const w of waiters.get(k) ?? []) w();
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://double");
    requests.push(`${req.method} ${url.pathname}`);
    const auth = req.headers.authorization?.replace(/^Bearer /, "");
    // An issued token counts until it is revoked or expires, as on S2.
    const live = (t: IssuedToken) => !t.revoked && (!t.expires_at || Date.parse(t.expires_at) > Date.now());
    if (auth !== accessToken && !issued.some((t) => t.token === auth && live(t))) return json(res, 401, { code: "unauthorized", message: "bad token" });
    const inPath = /^\/basins\/([^/]+)(\/v1\/.*)$/.exec(url.pathname);
    const basin = inPath ? decodeURIComponent(inPath[1]!) : String(req.headers["s2-basin"] ?? "default");
    const path = (inPath ? inPath[2]! : url.pathname.replace(/^\/account(?=\/v1\/)/, "")).replace(/^\/v1/, "");
    try {
      if (req.method === "POST" && path === "/access-tokens") {
        const b = await body(req);
        const token = `s2tok_${issued.length}_${Math.random().toString(36).slice(2)}`;
        issued.push({ id: b.id, token, scope: b.scope, expires_at: b.expires_at });
        return json(res, 201, { access_token: token });
      }
      const revoke = /^\/access-tokens\/([^/]+)$/.exec(path);
      if (req.method === "DELETE" && revoke) {
        const found = issued.find((t) => t.id === decodeURIComponent(revoke[1]!));
        if (!found) return json(res, 404, { code: "access_token_not_found", message: "no such token" });
        found.revoked = true;
        return json(res, 200, {});
      }
      if (!basins.has(basin)) return json(res, 404, { code: "basin_not_found", message: `no basin ${basin}` });
      if (req.method === "POST" && path === "/streams") {
        const b = await body(req);
        const k = key(basin, b.stream);
        if (streams.has(k)) return json(res, 409, { code: "resource_already_exists", message: "stream exists" });
        streams.set(k, newStream(withConfig(basinDefault, b.config)));
        return json(res, 201, { name: b.stream, created_at: new Date().toISOString(), deleted_at: null });
      }
      const deleting = /^\/streams\/([^/]+)$/.exec(path);
      const configured = deleting && streams.get(key(basin, decodeURIComponent(deleting[1]!)));
      if (deleting && (req.method === "GET" || req.method === "PATCH")) {
        if (!configured) return json(res, 404, { code: "stream_not_found", message: "no such stream" });
        if (req.method === "PATCH") configured.config = withConfig(configured.config, await body(req));
        return json(res, 200, configured.config);
      }
      if (req.method === "DELETE" && deleting) {
        if (!streams.delete(key(basin, decodeURIComponent(deleting[1]!)))) return json(res, 404, { code: "stream_not_found", message: "no such stream" });
        res.writeHead(202);
        return res.end();
      }
      const m = /^\/streams\/([^/]+)\/records(\/tail)?$/.exec(path);
      if (!m) return json(res, 404, { code: "not_found", message: path });
      const k = key(basin, decodeURIComponent(m[1]!));
      if (!streams.has(k) && req.method === "POST" && options.createStreamOnAppend) streams.set(k, newStream(basinDefault));
      const recs = streams.get(k);
      if (!recs) return json(res, 404, { code: "stream_not_found", message: "no such stream" });

      if (m[2]) return json(res, 200, { tail: tailOf(recs) });

      if (req.method === "POST") {
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
        } else {
          const j = (await body(req)) as { records: { body?: string; headers?: [string, string][] }[]; match_seq_num?: number | null };
          b = { records: j.records.map((r) => ({ bytes: Buffer.from(r.body ?? "", "utf8"), headers: r.headers ?? [] })), match_seq_num: j.match_seq_num };
        }
        // S2 meters headers too: 2 bytes per header besides its name and value.
        const size = b.records.reduce((n, r) => n + meteredBytes(r.bytes.length, r.headers), 0);
        if (b.records.length === 0 || b.records.length > 1000 || size > 1024 * 1024) {
          return json(res, 422, { code: "invalid", message: "batch limits" });
        }
        if (interposed !== undefined) {
          recs.push({ seq_num: recs.length, timestamp: Date.now(), body: interposed, headers: [] });
          interposed = undefined;
          wake(k);
        }
        if (b.match_seq_num != null && b.match_seq_num !== recs.length) return json(res, 412, { seq_num_mismatch: recs.length });
        const start = { seq_num: recs.length, timestamp: Date.now() };
        for (const r of b.records) {
          // A command's body is binary; kept as latin1 text, one character per byte.
          recs.push({ seq_num: recs.length, timestamp: start.timestamp, body: r.bytes.toString(r.headers[0]?.[0] === "" ? "latin1" : "utf8"), headers: r.headers });
          applyCommand(recs, r);
        }
        wake(k);
        if (failNextAppendAfterCommit) {
          failNextAppendAfterCommit = false;
          return req.socket.destroy();
        }
        if (protobuf) {
          const position = (p: { seq_num: number; timestamp: number }) => ({ seqNum: BigInt(p.seq_num), timestamp: BigInt(p.timestamp) });
          res.writeHead(200, { "content-type": "application/protobuf" });
          return res.end(Buffer.from(AppendAck.toBinary({ start: position(start), end: position(tailOf(recs)), tail: position(tailOf(recs)) })));
        }
        return json(res, 200, { start, end: tailOf(recs), tail: tailOf(recs) });
      }

      // From a seq_num, or from the first record stamped at or after a timestamp (ms).
      const timestamp = url.searchParams.get("timestamp");
      const start =
        timestamp === null ? Number(url.searchParams.get("seq_num") ?? 0) : (from(recs, 0).find((r) => r.timestamp >= Number(timestamp))?.seq_num ?? recs.length);
      const count = Math.min(Number(url.searchParams.get("count") ?? 1000), 1000);
      const clamp = url.searchParams.get("clamp") === "true";
      if (start > recs.length && !clamp) return json(res, 416, { tail: tailOf(recs) });
      const slice = (at: number) => from(recs, at).slice(0, count);

      if (req.headers.accept !== "text/event-stream") {
        // A unary read stops at `count` records or `bytes` metered bytes (both at most S2's
        // 1000 / 1 MiB), returning only records that fit: possibly none.
        const bytes = Math.min(Number(url.searchParams.get("bytes") ?? MiB), MiB);
        const records: Rec[] = [];
        let total = 0;
        for (const r of slice(start)) {
          total += metered(r);
          if (total > bytes) break;
          records.push(r);
        }
        reads.push({ from: start, count, bytes, returned: records.length });
        return json(res, 200, { records, tail: tailOf(recs) });
      }

      // A read session: what is there, then each new batch live, pings in between.
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let next = Math.min(start, recs.length);
      const send = () => {
        while (next < recs.length) {
          const batch = slice(next);
          if (batch.length === 0) break;
          next = batch.at(-1)!.seq_num + 1;
          res.write(`event: batch\ndata: ${JSON.stringify({ records: batch, tail: tailOf(recs) })}\n\n`);
        }
      };
      send();
      const set = waiters.get(k) ?? new Set();
      waiters.set(k, set);
      set.add(send);
      const ping = setInterval(() => res.write(`event: ping\ndata: ${JSON.stringify({ timestamp: Date.now() })}\n\n`), 1_000);
      req.on("close", () => {
        clearInterval(ping);
        set.delete(send);
      });
    } catch (error) {
      json(res, 500, { code: "internal", message: String(error) });
    }
  });
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
    /** A stream's configuration as the double holds it (undefined: no such stream). */
    streamConfig: (stream: string, basin = "test-basin") => streams.get(key(basin, stream))?.config,
    /**
     * Applies each stream's retention as S2 would at time `now` (ms): records older than an `age`
     * policy go, and a stream left empty with delete-on-empty on (and at least that old) is deleted.
     */
    applyRetention(now: number) {
      for (const [k, recs] of streams) {
        const policy = recs.config.retention_policy;
        if (!("age" in policy)) continue;
        const keep = recs.findIndex((r) => r.seq_num >= (recs.trimmedBefore ?? 0) && r.timestamp >= now - policy.age * 1000);
        recs.trimmedBefore = keep === -1 ? recs.length : keep;
        const minAge = recs.config.delete_on_empty.min_age_secs;
        if (recs.trimmedBefore === recs.length && minAge > 0 && now - recs.createdAt >= minAge * 1000) streams.delete(k);
      }
    },
    /** The next append is stored, then its connection dropped before the answer: a lost response. */
    loseNextAppendResponse() {
      failNextAppendAfterCommit = true;
    },
    /** Another writer's record lands just before the next append arrives: a direct writer racing the service. */
    interposeBeforeNextAppend(body: string) {
      interposed = body;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

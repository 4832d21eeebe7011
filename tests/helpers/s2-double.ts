import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const MiB = 1024 * 1024;

/**
 * A test double of the part of S2's REST API that @s2-dev/streamstore uses over fetch (HTTP/1.1):
 * create stream, append (with match_seq_num), read (JSON, and SSE read sessions with batch and
 * ping events), check tail, issue access token. Mirrors S2's limits: 1000 records and 1 MiB per
 * append, 1000 records and 1 MiB (or less if asked) per unary read, dense seqNums from 0, 412 on a
 * seqNum mismatch, 416 past the tail without clamp.
 */
interface Rec {
  seq_num: number;
  timestamp: number;
  body: string;
  headers: [string, string][];
}

/** S2's metered size of a record: its body and headers, 2 bytes per header and 8 per record. */
const metered = (r: Rec) =>
  8 + Buffer.byteLength(r.body) + r.headers.reduce((n, [k, v]) => n + 2 + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

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

export async function startS2Double(accessToken: string) {
  const streams = new Map<string, Rec[]>();
  const waiters = new Map<string, Set<() => void>>();
  const issued: IssuedToken[] = [];
  const requests: string[] = [];
  const reads: ReadLog[] = [];
  let failNextAppendAfterCommit = false;

  const key = (basin: string, stream: string) => `${basin}/${stream}`;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const tailOf = (recs: Rec[]) => ({ seq_num: recs.length, timestamp: recs.at(-1)?.timestamp ?? 0 });
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
    const basin = String(req.headers["s2-basin"] ?? "default");
    const path = url.pathname.replace(/^\/v1/, "");
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
      if (req.method === "POST" && path === "/streams") {
        const b = await body(req);
        const k = key(basin, b.stream);
        if (streams.has(k)) return json(res, 409, { code: "resource_already_exists", message: "stream exists" });
        streams.set(k, []);
        return json(res, 201, { name: b.stream, created_at: new Date().toISOString(), deleted_at: null });
      }
      const m = /^\/streams\/([^/]+)\/records(\/tail)?$/.exec(path);
      if (!m) return json(res, 404, { code: "not_found", message: path });
      const k = key(basin, decodeURIComponent(m[1]!));
      const recs = streams.get(k);
      if (!recs) return json(res, 404, { code: "stream_not_found", message: "no such stream" });

      if (m[2]) return json(res, 200, { tail: tailOf(recs) });

      if (req.method === "POST") {
        const b = (await body(req)) as { records: { body?: string; headers?: [string, string][] }[]; match_seq_num?: number | null };
        const size = b.records.reduce((n, r) => n + Buffer.byteLength(r.body ?? "") + 8, 0);
        if (b.records.length === 0 || b.records.length > 1000 || size > 1024 * 1024) {
          return json(res, 422, { code: "invalid", message: "batch limits" });
        }
        if (b.match_seq_num != null && b.match_seq_num !== recs.length) return json(res, 412, { seq_num_mismatch: recs.length });
        const start = { seq_num: recs.length, timestamp: Date.now() };
        for (const r of b.records) recs.push({ seq_num: recs.length, timestamp: start.timestamp, body: r.body ?? "", headers: r.headers ?? [] });
        wake(k);
        if (failNextAppendAfterCommit) {
          failNextAppendAfterCommit = false;
          return req.socket.destroy();
        }
        return json(res, 200, { start, end: tailOf(recs), tail: tailOf(recs) });
      }

      const from = Number(url.searchParams.get("seq_num") ?? 0);
      const count = Math.min(Number(url.searchParams.get("count") ?? 1000), 1000);
      const clamp = url.searchParams.get("clamp") === "true";
      if (from > recs.length && !clamp) return json(res, 416, { tail: tailOf(recs) });
      const slice = (at: number) => recs.slice(at, at + count);

      if (req.headers.accept !== "text/event-stream") {
        // A unary read stops at `count` records or `bytes` metered bytes (both at most S2's
        // 1000 / 1 MiB), returning only records that fit: possibly none.
        const bytes = Math.min(Number(url.searchParams.get("bytes") ?? MiB), MiB);
        const records: Rec[] = [];
        let total = 0;
        for (const r of slice(from)) {
          total += metered(r);
          if (total > bytes) break;
          records.push(r);
        }
        reads.push({ from, count, bytes, returned: records.length });
        return json(res, 200, { records, tail: tailOf(recs) });
      }

      // A read session: what is there, then each new batch live, pings in between.
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let next = Math.min(from, recs.length);
      const send = () => {
        while (next < recs.length) {
          const batch = slice(next);
          next += batch.length;
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
    /** The next append is stored, then its connection dropped before the answer: a lost response. */
    loseNextAppendResponse() {
      failNextAppendAfterCommit = true;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

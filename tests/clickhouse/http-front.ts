import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Session } from "chdb";

/**
 * The part of ClickHouse's HTTP interface that @clickhouse/client uses, served by the chdb engine
 * in this process: SQL in the body or `query`, `param_*` query parameters, `database`, inserts
 * with their rows in the body, `GET /ping`, and errors as ClickHouse sends them (status 500,
 * `X-ClickHouse-Exception-Code`, "Code: N. DB::Exception: …"). Debian's clickhouse-server is far
 * too old for this project's SQL, and no other ClickHouse can be installed here; with this front
 * the production client and SQL are what the tests exercise.
 */
const protocolParams = new Set(["query", "database", "query_id", "default_format", "session_id", "session_timeout", "compress", "decompress", "enable_http_compression", "wait_end_of_query", "role"]);

export async function startClickHouseFront(opts: { dataDir: string; port?: number; host?: string }): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const session = new Session(opts.dataDir);
  let current = "default";
  // chdb runs one query at a time; queue requests rather than interleave USE and queries.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>) => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://clickhouse");
    if (url.pathname === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("Ok.\n");
    }
    const body = await readBody(req);
    const inUrl = url.searchParams.get("query");
    const sql = inUrl ? (body ? `${inUrl}\n${body}` : inUrl) : body;
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (k.startsWith("param_")) params[k.slice(6)] = v;
    const database = url.searchParams.get("database") ?? "default";
    // Other URL parameters are settings: a SELECT gets them as its SETTINGS clause.
    const settings = [...url.searchParams].filter(([k]) => !k.startsWith("param_") && !protocolParams.has(k));
    const withSettings = (q: string) => {
      if (settings.length === 0 || !/^\s*(SELECT|WITH)\b/i.test(q)) return q;
      const clause = ` SETTINGS ${settings.map(([k, v]) => `${k} = ${/^\d+$/.test(v) ? v : `'${v.replace(/'/g, "''")}'`}`).join(", ")}`;
      const format = /\n?FORMAT\s+\w+\s*$/i.exec(q);
      return format ? q.slice(0, format.index) + clause + q.slice(format.index) : q + clause;
    };
    try {
      const out = await serial(async () => {
        if (database !== current) {
          session.query(`USE \`${database.replace(/`/g, "")}\``, "TabSeparated");
          current = database;
        }
        const format = url.searchParams.get("default_format") ?? "TabSeparated";
        const statement = withSettings(sql);
        return Object.keys(params).length ? session.queryBind(statement, params, format) : session.query(statement, format);
      });
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-clickhouse-summary": "{}" });
      res.end(out);
    } catch (error) {
      const message = String(error instanceof Error ? error.message : error).replace(/^Query failed: /, "");
      const code = /Code: (\d+)\./.exec(message)?.[1] ?? "1000";
      if (current !== database) current = "default";
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "x-clickhouse-exception-code": code });
      res.end(message.startsWith("Code:") ? `${message}\n` : `Code: ${code}. DB::Exception: ${message}\n`);
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          session.close();
          resolve();
        });
      }),
  };
}

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One POST a receiver got. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the body had arrived. */
  at: number;
  /** The webhook headers as standardwebhooks' verify wants them. */
  webhookHeaders: Record<string, string>;
}

/** What the receiver answers a request with: a status, or "hang" (never answer), or "reset" (drop the connection). */
export type Answer = number | "hang" | "reset";

/**
 * A webhook receiver on loopback: records every request and answers as `answer` says (called with
 * the request's index, from 0), 200 by default. `until(n)` waits for the n-th request.
 */
export async function startReceiver(answer: (index: number, delivery: Delivery) => Answer = () => 200, port = 0, host = "127.0.0.1") {
  const deliveries: Delivery[] = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let waiters: (() => boolean)[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const header = (name: string) => String(req.headers[name] ?? "");
      const delivery: Delivery = {
        headers: req.headers,
        body,
        at: performance.now(),
        webhookHeaders: { "webhook-id": header("webhook-id"), "webhook-timestamp": header("webhook-timestamp"), "webhook-signature": header("webhook-signature") },
      };
      const index = deliveries.push(delivery) - 1;
      const reply = answer(index, delivery);
      if (reply === "hang") hanging.add(res);
      else if (reply === "reset") req.socket.destroy();
      else res.writeHead(reply, { "content-type": "text/plain" }).end(reply >= 200 && reply < 300 ? "ok" : "no");
      waiters = waiters.filter((satisfied) => !satisfied());
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    port: bound,
    url: (path = "/hook") => `http://${host}:${bound}${path}`,
    deliveries,
    /** Resolves with the deliveries once there are at least `n`. */
    until(n: number, timeoutMs = 20_000): Promise<Delivery[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${deliveries.length}/${n} callbacks within ${timeoutMs} ms`)), timeoutMs);
        const satisfied = () => {
          if (deliveries.length < n) return false;
          clearTimeout(timer);
          resolve(deliveries.slice());
          return true;
        };
        if (!satisfied()) waiters.push(satisfied);
      });
    },
    /** Deliveries carrying this webhook-id. */
    withId: (id: string) => deliveries.filter((d) => d.headers["webhook-id"] === id),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

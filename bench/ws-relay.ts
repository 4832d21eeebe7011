import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/**
 * The floor under any WebSocket fan-out on this machine: a bare `ws` server that relays each
 * message to every other socket, with no GraphQL, no store and no auth. Whatever we add shows as
 * the distance from it.
 */
export async function startWsRelay() {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => {
      for (const other of wss.clients) if (other !== socket) other.send(data, { binary: isBinary });
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

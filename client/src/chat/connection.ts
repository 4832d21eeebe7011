import { SessionsClient, type Token } from "../sessions-client.js";

/** Where the service is and how to reach it: shared by the transport, serveChat and loadChat. */
export interface ChatConnectionOptions {
  /** Base address of the service, e.g. http://127.0.0.1:4000. */
  url: string;
  /**
   * A secret key or public access token (a page needs `input:sessions:<chatId>`), or a function
   * asked for one at every (re)connect and again when the service answers UNAUTHENTICATED (an
   * expired token), so a short-lived token can be replaced without losing the reply in flight.
   */
  token: Token;
  /** "sse" (graphql-sse; the default) or "ws" (graphql-ws). Both resume a reply alike. */
  transport?: "sse" | "ws";
  /** The WebSocket class for transport "ws" where there is no global one (Node 20: `ws`). Default: the global WebSocket. */
  webSocketImpl?: unknown;
}

export const chatClient = (o: ChatConnectionOptions) => new SessionsClient({ url: o.url, token: o.token, transport: o.transport, webSocketImpl: o.webSocketImpl });

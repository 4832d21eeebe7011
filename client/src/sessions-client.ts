import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type ExecutionResult } from "graphql";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";

/** A small typed client over the generated documents: queries over HTTP, subscriptions over graphql-ws. */
export class SessionsClient {
  private ws: WsClient | undefined;

  constructor(
    private url: string,
    private token: string,
  ) {}

  async request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const res = await fetch(`${this.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await res.json()) as ExecutionResult<R>;
    if (body.errors?.length) {
      const e = body.errors[0]!;
      throw Object.assign(new Error(e.message), { code: e.extensions?.code });
    }
    return body.data as R;
  }

  async *subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): AsyncGenerator<R> {
    this.ws ??= createWsClient({
      url: `${this.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.token}` },
    });
    for await (const result of this.ws.iterate<R>({ query: print(document), variables })) {
      if (result.errors?.length) throw new Error(result.errors[0]!.message);
      if (result.data) yield result.data as R;
    }
  }

  async close() {
    await this.ws?.dispose();
  }
}

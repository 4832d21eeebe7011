import pino from "pino";
import { vi } from "vitest";
import { createEnvironment } from "../../src/auth/environments.js";
import { loadConfig } from "../../src/config.js";
import { createApp } from "../../src/server.js";
import type { ChannelKey } from "../../src/channels/stream-store.js";
import { createServices, type Services } from "../../src/services.js";
import { backendEnv, type BackendName } from "./backends.js";

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string } }[];
}

export type Gql = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse<T>>;

export function gqlClient(url: string, token?: string): Gql {
  return async (query, variables) => {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GraphQLResponse<any>;
  };
}

export interface TestServer {
  url: string;
  wsUrl: string;
  services: Services;
  env: Record<string, string>;
  /** A new environment with its own secret key: tests isolate themselves by environment. */
  newEnvironment(): Promise<{ id: string; secretKey: string; gql: Gql }>;
  /**
   * Resolves once at least `n` subscribers of the channel in this process are live (caught up and
   * fed by the channel's follower). A subscription without fromSeqNum starts at the tail when it
   * turns live, so a test appends after this instead of after a guessed sleep.
   */
  liveSubscribers(channel: ChannelKey, n?: number, timeoutMs?: number): Promise<void>;
  /** Cuts every open HTTP connection (SSE streams included), as a network failure would. */
  dropConnections(): void;
  close(): Promise<void>;
}

let envCounter = 0;

/** The real service, in this process, on a free port, over the given backend. */
export async function startServer(backend: BackendName | Record<string, string>, extra: Record<string, string> = {}): Promise<TestServer> {
  const env = { ...(typeof backend === "string" ? await backendEnv(backend) : backend), ...extra };
  const config = loadConfig({ ...env, PORT: "0", HOST: "127.0.0.1" });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const services = await createServices(config, logger);
  const app = createApp(services);
  const url = await app.listen(0, "127.0.0.1");
  return {
    url,
    wsUrl: `${url.replace(/^http/, "ws")}/graphql`,
    services,
    env,
    async newEnvironment() {
      const slug = `t${process.pid}-${++envCounter}-${Math.random().toString(36).slice(2, 8)}`;
      const { environment, secretKey } = await createEnvironment(services.prisma, slug);
      return { id: environment.id, secretKey, gql: gqlClient(url, secretKey) };
    },
    async liveSubscribers(channel, n = 1, timeoutMs = 10_000) {
      await vi.waitFor(
        async () => {
          const live = await services.fanout.liveSubscribers(channel);
          if (live < n) throw new Error(`${live}/${n} live subscribers on ${channel.sessionId} ${channel.io}`);
        },
        { timeout: timeoutMs, interval: 10 },
      );
    },
    dropConnections: () => app.dropConnections(),
    async close() {
      await app.close();
      await services.close();
    },
  };
}

/** A new session's friendly id. */
export const createSessionId = async (gql: Gql, type = "chat") =>
  (await gql(`mutation($type: String!) { createSession(input: { type: $type }) { session { id } } }`, { type })).data!.createSession.session.id as string;

export const codes = (r: GraphQLResponse) => (r.errors ?? []).map((e) => e.extensions?.code);

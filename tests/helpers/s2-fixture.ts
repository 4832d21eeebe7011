import { afterAll, beforeAll } from "vitest";
import { backendEnv } from "./backends.js";
import { startS2Double } from "./s2-double.js";
import { startServer, type Gql, type TestServer } from "./test-server.js";

/** The S2 API double, as startS2Double returns it. */
export type S2Double = Awaited<ReturnType<typeof startS2Double>>;

/** What a describe block on the S2 store works with, once its beforeAll hooks have run. */
export interface S2Fixture {
  /** The S2 API double the service's store talks to (root token `s2-root-token`). */
  double: S2Double;
  /** The service on PGlite with its channel records in the double. */
  server: TestServer;
  /** A fresh environment's secret key, and a client holding it. */
  key: string;
  gql: Gql;
}

/**
 * Starts the S2 double, the service on it and one environment before the describe block it is
 * called in, and closes them after it (the double's close fails the block on any request or answer
 * that breaks S2's API).
 */
export function s2Fixture(): S2Fixture {
  const fixture = {} as S2Fixture;
  beforeAll(async () => {
    fixture.double = await startS2Double("s2-root-token");
    fixture.server = await startServer({ ...(await backendEnv("pglite")), ...fixture.double.env });
    ({ gql: fixture.gql, secretKey: fixture.key } = await fixture.server.newEnvironment());
  });
  afterAll(async () => {
    await fixture.server?.close();
    await fixture.double?.close();
  });
  return fixture;
}

import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { startServer, type Gql, type TestServer } from "./test-server.js";

/**
 * Debian's Chromium (installed by the test scripts where missing), headless, with nothing that
 * reaches beyond loopback: no background networking, component updates, sync or QUIC.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** What a describe block that drives pages works with, once its beforeAll hooks have run. */
export interface PageFixture {
  /** The service, on PGlite. */
  server: TestServer;
  /** A fresh environment's secret key, and a client holding it. */
  key: string;
  gql: Gql;
  browser: Browser;
}

/**
 * Starts the service, one environment and Chromium before the describe block it is called in, and
 * closes them after it. The block's own beforeAll hooks, registered after this call, see them
 * started (and their afterAll hooks run before these close them).
 */
export function pageFixture(): PageFixture {
  const fixture = {} as PageFixture;
  beforeAll(async () => {
    fixture.server = await startServer("pglite");
    ({ gql: fixture.gql, secretKey: fixture.key } = await fixture.server.newEnvironment());
    fixture.browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await fixture.browser?.close();
    await fixture.server?.close();
  });
  return fixture;
}

import { pageFixture } from "./helpers/browser.js";
import { createClient as createSseClient } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { subscribe } from "./helpers/clients.js";
import { gqlClient, startServer, type TestServer } from "./helpers/test-server.js";

const INTROSPECTION = `{ __schema { queryType { name } } }`;
const HIDDEN_INTROSPECTION = `query { ...Map } fragment Map on Query { __type(name: "Session") { name } }`;

const post = (server: TestServer, headers: Record<string, string>, body: unknown = { query: "{ __typename }" }) =>
  fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const preflight = (server: TestServer, origin: string, path = "/graphql") =>
  fetch(`${server.url}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });

describe("exposure with the defaults (CORS_ORIGINS=*, GRAPHIQL=1)", () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startServer("pglite");
    key = (await server.newEnvironment()).secretKey;
  });
  afterAll(() => server?.close());

  it("answers any origin without ever allowing credentials", async () => {
    const res = await post(server, { origin: "https://elsewhere.example", authorization: `Bearer ${key}` });
    expect(res.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/elsewhere\.example)$/);
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("access-control-expose-headers")).toMatch(/x-request-id/i);
    const pre = await preflight(server, "https://elsewhere.example");
    expect(pre.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/elsewhere\.example)$/);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("refuses introspection to a caller without credentials (HTTP, SSE), keeps __typename, and answers an authenticated caller (HTTP, WebSocket)", async () => {
    const anonymous = gqlClient(server.url);
    for (const query of [INTROSPECTION, HIDDEN_INTROSPECTION]) {
      const r = await anonymous(query);
      expect(r.data ?? null).toBeNull();
      expect(r.errors).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/introspection needs a secret key or public access token/), extensions: expect.objectContaining({ code: "UNAUTHENTICATED", requestId: expect.any(String) }) }),
      ]);
    }
    expect((await anonymous(`{ __typename }`)).data).toEqual({ __typename: "Query" });
    const sse = createSseClient({ url: `${server.url}/graphql/stream`, retryAttempts: 0 });
    const results: { errors?: readonly { extensions?: Record<string, unknown> }[] }[] = [];
    await new Promise<void>((resolve, reject) => sse.subscribe({ query: INTROSPECTION }, { next: (r) => void results.push(r), error: reject, complete: resolve }));
    sse.dispose();
    expect(results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);

    // An authenticated caller is answered, over HTTP and WebSocket.
    for (const query of [INTROSPECTION, HIDDEN_INTROSPECTION]) expect((await gqlClient(server.url, key)(query)).errors).toBeUndefined();
    expect((await gqlClient(server.url, key)(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: "Query" } } });
    const ws = subscribe(server, "ws", key, INTROSPECTION, {});
    await ws.done;
    expect(ws.items).toEqual([{ queryType: { name: "Query" } }]);
    expect(ws.errors).toEqual([]);
  });

  it("gives field suggestions to authenticated callers only", async () => {
    const anonymous = await gqlClient(server.url)(`{ sessionz { totalCount } }`);
    expect(anonymous.errors?.map((e) => e.message)).toEqual(['Cannot query field "sessionz" on type "Query".']);
    const ENUM = `mutation { appendToSession(id: "x", io: OTU, records: []) { lastSeqNum } }`;
    expect((await gqlClient(server.url)(ENUM)).errors?.[0]?.message).toBe('Value "OTU" does not exist in "SessionIO" enum.');
    expect((await gqlClient(server.url, key)(ENUM)).errors?.[0]?.message).toMatch(/Did you mean the enum value "OUT"\?/);
    const known = await gqlClient(server.url, key)(`{ sessionz { totalCount } }`);
    expect(known.errors?.[0]?.message).toMatch(/Did you mean .*"sessions"/);
    // Yoga caches validation errors per document: the anonymous caller after them still gets none.
    expect((await gqlClient(server.url)(`{ sessionz { totalCount } }`)).errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it("sends the pages with a Content-Security-Policy and no framing", async () => {
    for (const path of ["/", "/chat"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toMatch(/(^|; )default-src 'none'(;|$)/);
      expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });
});

describe("exposure with CORS_ORIGINS listed and GRAPHIQL=0", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("pglite", { CORS_ORIGINS: "https://app.example, https://admin.example:8443", GRAPHIQL: "0" });
  });
  afterAll(() => server?.close());

  it("answers listed origins only, never with credentials", async () => {
    for (const origin of ["https://app.example", "https://admin.example:8443"]) {
      const res = await post(server, { origin });
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      const pre = await preflight(server, origin, "/graphql/stream");
      expect(pre.headers.get("access-control-allow-origin")).toBe(origin);
      expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    }
    for (const origin of ["https://evil.example", "null", "https://app.example.evil.example"]) {
      const res = await post(server, { origin });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect((await preflight(server, origin)).headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("does not serve GraphiQL", async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html" } });
    expect(await res.text()).not.toMatch(/graphiql/i);
  });
});

describe("exposure configuration", () => {
  it("refuses a bad CORS_ORIGINS or GRAPHIQL with one line naming it", () => {
    for (const [env, name] of [
      [{ CORS_ORIGINS: "https://app.example/path" }, "CORS_ORIGINS"],
      [{ CORS_ORIGINS: "app.example" }, "CORS_ORIGINS"],
      [{ CORS_ORIGINS: " , " }, "CORS_ORIGINS"],
      [{ GRAPHIQL: "off" }, "GRAPHIQL"],
    ] as const) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid configuration: ${name}: [^\\n]+$`));
    }
    expect(loadConfig({}).CORS_ORIGINS).toBe("*");
    expect(loadConfig({ CORS_ORIGINS: "https://a.example,http://127.0.0.1:3000" }).CORS_ORIGINS).toEqual(["https://a.example", "http://127.0.0.1:3000"]);
  });
});

describe("the pages under their Content-Security-Policy, in Chromium", () => {
  const fixture = pageFixture();
  beforeAll(async () => {
    await fixture.gql(`mutation { createSession(input: { type: "chat", externalId: "csp-check" }) { isCached } }`);
  });

  it("run with their styles and live data and not one violation, while an injected script is blocked", async () => {
    for (const path of ["/", "/chat?session=csp-check"]) {
      const page = await fixture.browser.newPage();
      const violations: string[] = [];
      await page.exposeFunction("reportViolation", (v: string) => violations.push(v));
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) =>
          (window as unknown as { reportViolation(v: string): void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
        );
      });
      page.on("console", (m) => m.text().includes("Content Security Policy") && violations.push(m.text()));
      await page.goto(`${fixture.server.url}${path}#token=${fixture.key}`);
      await page.getByTestId(path === "/" ? "session-row" : "composer").first().waitFor();
      // web/style.ts's rules apply: the header is dark.
      expect(await page.evaluate(() => getComputedStyle(document.querySelector("header")!).backgroundColor)).toBe("rgb(29, 35, 48)");
      expect(violations).toEqual([]);
      // And the policy is in force: a script slipped into the page (as an injection would) does not run.
      const ran = await page.evaluate(() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        return (window as unknown as { injected?: boolean }).injected === true;
      });
      expect(ran).toBe(false);
      await expect.poll(() => violations.some((v) => v.startsWith("script-src"))).toBe(true);
      await page.close();
    }
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { blockedAddress, UrlPolicy, type ResolvedAddress } from "../src/callbacks/index.js";
import { startReceiver } from "./helpers/callback-receiver.js";
import { gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * A hostile caller's callbackUrl (issue #16): every way of naming an address the service must not
 * reach. Nothing here connects anywhere: the URL policy is asked with a stand-in resolver.
 */

/** A resolver whose answers the test sets, per name; an unknown name does not exist. */
function fakeResolver(answers: Record<string, string[]>) {
  return async (name: string): Promise<ResolvedAddress[]> => {
    const found = answers[name];
    if (!found) throw Object.assign(new Error(`no ${name}`), { code: "ENOTFOUND" });
    return found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

describe("IPv6 forms that reach an IPv4 address the service must not", () => {
  it.each([
    // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is tunnelled to the IPv4 address AA.BB.CC.DD.
    ["2002:7f00:1::1", "loopback"],
    ["2002:a00:1::", "private"],
    ["2002:a9fe:a9fe::1", "link-local"],
    // Local-use NAT64 (RFC 8215): translated by a gateway inside the network, to any IPv4 address.
    ["64:ff9b:1::a00:1", "NAT64"],
    // IPv4-translated (SIIT, RFC 2765): ::ffff:0:a.b.c.d.
    ["::ffff:0:7f00:1", "loopback"],
    ["::ffff:0:a9fe:a9fe", "link-local"],
    // Teredo (RFC 4380): the client's IPv4 address sits in the last 32 bits, inverted.
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"],
    // Discard-only (RFC 6666).
    ["100::1", "discard"],
  ])("%s is refused (%s)", (address, why) => {
    expect(blockedAddress(address)).toContain(why);
  });

  it.each(["2002:808:808::1", "2606:4700:4700::1111", "64:ff9b::808:808", "2a00:1450:4001:82b::200e"])("%s is public", (address) => {
    expect(blockedAddress(address)).toBeUndefined();
  });
});

describe("held: the URL's form", () => {
  const policy = new UrlPolicy({ resolve: fakeResolver({ "localhost": ["127.0.0.1", "::1"], "public.test": ["8.8.8.8"] }) });

  it.each([
    "https://2130706433/", // decimal
    "https://0x7f000001/", // hex
    "https://0177.0.0.1/", // octal
    "https://127.1/", // short form
    "https://127.0.0.1./", // trailing dot
    "https://１２７.０.０.１/", // full-width digits (IDNA maps them)
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/", // IPv4-compatible
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[64:ff9b::7f00:1]/", // NAT64 of 127.0.0.1
    "https://[::ffff:a9fe:a9fe]/",
    "https://0xa9.0xfe.0xa9.0xfe/", // 169.254.169.254 in hex
    "https://localhost./",
    "https://LOCALHOST/",
    "https://ⓛocalhost/", // IDN mapping to localhost
  ])("refuses %s", async (url) => {
    await expect(policy.check(url)).rejects.toThrow(/CALLBACK_ALLOWED_HOSTS/);
  });

  it.each(["https://a@public.test/", "https://a:b@public.test/", "https://:b@public.test/", "file:///etc/passwd", "gopher://public.test/", "http://public.test/", "ftp://public.test/"])(
    "refuses %s",
    async (url) => {
      await expect(policy.check(url)).rejects.toThrow(/user name|https/);
    },
  );

  it("a URL whose user part looks like an allowed host goes to the real host", async () => {
    const allowing = new UrlPolicy({ allowedHosts: ["127.0.0.1"], resolve: fakeResolver({ "public.test": ["10.0.0.1"] }) });
    await expect(allowing.check("http://127.0.0.1@public.test/")).rejects.toThrow(/user name/);
    await expect(allowing.check("http://public.test#@127.0.0.1/")).rejects.toThrow(/must be https/);
    await expect(allowing.check("https://public.test\\@127.0.0.1/")).rejects.toThrow(/10.0.0.1/);
  });
});

describe("held: DNS rebinding", () => {
  it("a name public at creation and private at delivery is refused at delivery, in every form of the private address", async () => {
    const answers: Record<string, string[]> = { "rebind.test": ["8.8.8.8"] };
    const policy = new UrlPolicy({ resolve: fakeResolver(answers) });
    const url = await policy.check("https://rebind.test/hook");
    for (const inside of [["127.0.0.1"], ["::ffff:127.0.0.1"], ["::ffff:7f00:1"], ["8.8.8.8", "169.254.169.254"], ["fe80::1%eth0"], ["0.0.0.0"], ["2002:7f00:1::1"]]) {
      answers["rebind.test"] = inside;
      await expect(policy.addressFor(url), inside.join(",")).rejects.toThrow(/CALLBACK_ALLOWED_HOSTS/);
    }
    // Back to public: that address, and only it, is the one connected to.
    answers["rebind.test"] = ["8.8.4.4"];
    expect(await policy.addressFor(url)).toEqual({ address: "8.8.4.4", family: 4 });
  });

  it("a resolver answering nothing, or something that is not an address, is refused", async () => {
    const answers: Record<string, string[]> = { "odd.test": [] };
    const policy = new UrlPolicy({ resolve: fakeResolver(answers) });
    await expect(policy.addressFor(new URL("https://odd.test/"))).rejects.toThrow(/no address/);
    for (const weird of ["", "localhost", "127.000.000.001", "0x7f.0.0.1", "2130706433"]) {
      answers["odd.test"] = [weird];
      await expect(policy.addressFor(new URL("https://odd.test/")), weird).rejects.toThrow(/not an IP address|CALLBACK_ALLOWED_HOSTS/);
    }
  });
});

describe("an agent's callback waitpoint and a page's token on the same session", () => {
  // Nothing is delivered here: no record lands after the waitpoints, and the port is closed anyway.
  const CREATE = `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { isCached waitpoint { id afterSeqNum callback { url } } } }`;
  let server: TestServer;
  let agent: Gql;
  let page: Gql;
  let session: string;

  beforeAll(async () => {
    server = await startServer("pglite", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1" });
    ({ gql: agent } = await server.newEnvironment());
    const name = `callback-agent-${Date.now().toString(36)}`;
    session = (await agent(`mutation($n: String!) { createSession(input: { type: "agent", externalId: $n }) { session { id } } }`, { n: name })).data!.createSession.session.id;
    const token = (await agent(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`write:sessions:${name}`] })).data!.createPublicAccessToken.token;
    page = gqlClient(server.url, token);
  }, 180_000);
  afterAll(() => server?.close());

  it("a page cannot take the key the agent will wait with, leaving the agent without its callback", async () => {
    // examples/callback-agent.ts waits for in#n with the key `wait-<n>`: a page's token makes that waitpoint first, far away and without a callback.
    const planted = await page(CREATE, { input: { session, io: "IN", afterSeqNum: 2 ** 53 - 1, timeout: "7d", idempotencyKey: "wait-1" } });
    expect(planted.errors).toBeUndefined();
    const url = "http://127.0.0.1:9/callback";
    const r = await agent(CREATE, { input: { session, io: "IN", afterSeqNum: 1, timeout: "1h", idempotencyKey: "wait-1", callbackUrl: url } });
    // Either refused (the key names another waitpoint) or the agent's own: never one that will not call it back.
    if (!r.errors) expect(r.data!.createSessionWaitpoint.waitpoint).toMatchObject({ afterSeqNum: 1, callback: { url } });
  });

  it("a page cannot read the agent's callback URL by asking with the agent's key", async () => {
    const url = "http://127.0.0.1:9/callback?token=agent-secret";
    expect((await agent(CREATE, { input: { session, io: "IN", afterSeqNum: 2, idempotencyKey: "wait-2", callbackUrl: url } })).errors).toBeUndefined();
    const r = await page(CREATE, { input: { session, io: "IN", afterSeqNum: 2, idempotencyKey: "wait-2" } });
    expect(JSON.stringify(r)).not.toContain("agent-secret");
  });
});

describe("one environment's slow receiver and another's callbacks", () => {
  it("an environment whose receiver never answers cannot hold every delivery slot: another's callback goes out meanwhile", { timeout: 120_000 }, async () => {
    // Attempts that hang last CALLBACK_TIMEOUT; the other environment's callback must not wait for them.
    const server = await startServer("pglite", { CALLBACK_ALLOWED_HOSTS: "127.0.0.1", CALLBACK_TIMEOUT: "30s" });
    let quiet = "";
    const receiver = await startReceiver((_i, d) => (d.body.includes(quiet) && quiet !== "" ? 200 : "hang"));
    try {
      const noisy = await server.newEnvironment();
      const victim = await server.newEnvironment();
      const CREATE = `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { waitpoint { id } } }`;
      const APPEND = `mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "wake" }]) { firstSeqNum } }`;
      const sessionOf = async (gql: Gql) => (await gql(`mutation { createSession(input: { type: "agent" }) { session { id } } }`)).data!.createSession.session.id as string;

      // The noisy environment: more waitpoints with callbacks than a process has delivery slots (32), all woken at once.
      const loud = await sessionOf(noisy.gql);
      for (let i = 0; i < 40; i++) expect((await noisy.gql(CREATE, { input: { session: loud, io: "IN", callbackUrl: receiver.url("/noisy") } })).errors).toBeUndefined();
      expect((await noisy.gql(APPEND, { id: loud })).errors).toBeUndefined();
      await receiver.until(8, 60_000);

      // Meanwhile, the other environment's one callback.
      quiet = await sessionOf(victim.gql);
      const { id } = (await victim.gql(CREATE, { input: { session: quiet, io: "IN", callbackUrl: receiver.url("/quiet") } })).data!.createSessionWaitpoint.waitpoint;
      expect((await victim.gql(APPEND, { id: quiet })).errors).toBeUndefined();
      await vi.waitFor(
        async () => {
          const r = await victim.gql(`query($id: ID!) { waitpoint(id: $id) { callback { status } } }`, { id });
          expect(r.data!.waitpoint.callback.status).toBe("DELIVERED");
        },
        // Well within the noisy attempts' 30 s: only a free slot can deliver it in time.
        { timeout: 15_000, interval: 50 },
      );
    } finally {
      await receiver.close();
      await server.close();
    }
  });
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { blockedAddress, nextRetry, UrlPolicy } from "../src/callbacks/index.js";
import { post } from "../src/callbacks/post.js";
import { startReceiver } from "./helpers/callback-receiver.js";

// The pure parts of callbacks (address ranges, backoff, the URL policy with a stand-in resolver)
// and one POST's edges (redirects, big answers, timeouts) against receivers on 127.0.0.1.

describe("blocked addresses", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.0.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "shared"],
    ["0.0.0.0", "this network"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private"],
    ["fd00:ec2::254", "private"],
    ["fe80::1", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["[::1]", "loopback"],
    ["localhost", "not an IP address"],
  ])("%s is refused (%s)", (address, why) => {
    expect(blockedAddress(address)).toContain(why);
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])(
    "%s is public",
    (address) => expect(blockedAddress(address)).toBeUndefined(),
  );
});

describe("retry schedule", () => {
  const policy = { firstRetryMs: 1_000, maxRetryMs: 3_600_000, giveUpAfterMs: 86_400_000 };
  const event = new Date("2026-01-01T00:00:00Z");
  const at = (ms: number) => new Date(event.getTime() + ms);

  it("doubles from the first retry, with up to half the wait as jitter, capped", () => {
    const waits = [1, 2, 3, 4, 5, 12, 13, 30].map((attempts) => {
      const low = nextRetry(policy, attempts, event, event, () => 0);
      const high = nextRetry(policy, attempts, event, event, () => 0.999999);
      return ["retryAt" in low ? low.retryAt.getTime() - event.getTime() : -1, "retryAt" in high ? high.retryAt.getTime() - event.getTime() : -1];
    });
    expect(waits.map(([low]) => low)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 1_024_000, 1_800_000, 1_800_000]);
    for (const [low, high] of waits) expect(high! / low!).toBeCloseTo(2, 2);
  });

  it("never schedules past the give-up time, and gives up from then on", () => {
    const late = nextRetry(policy, 40, event, at(86_400_000 - 10_000), () => 0.5);
    expect(late).toEqual({ retryAt: at(86_400_000) });
    expect(nextRetry(policy, 41, event, at(86_400_000), () => 0.5)).toEqual({ giveUp: true });
  });

  it("with the defaults, tries about 35 times over the day", () => {
    let now = event;
    let attempts = 1;
    for (;;) {
      const decision = nextRetry(policy, attempts, event, now, () => 0.5);
      if ("giveUp" in decision) break;
      now = decision.retryAt;
      attempts++;
    }
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(45);
  });
});

describe("URL policy", () => {
  const names: Record<string, string[]> = { "public.test": ["198.51.100.1"], "mixed.test": ["198.51.100.1", "10.0.0.5"], "inside.test": ["10.0.0.5"] };
  const policy = (allowedHosts: string[] = []) =>
    new UrlPolicy({
      allowedHosts,
      resolve: async (name) => {
        const found = names[name];
        if (!found) throw Object.assign(new Error(`no ${name}`), { code: "ENOTFOUND" });
        return found.map((address) => ({ address, family: 4 as const }));
      },
    });

  it("takes public https names, and only them unless allowed", async () => {
    await expect(policy().check("https://public.test/hook")).resolves.toBeInstanceOf(URL);
    await expect(policy().check("https://mixed.test/hook")).rejects.toThrow(/mixed.test resolves to 10.0.0.5, a private address/);
    await expect(policy().check("https://inside.test/hook")).rejects.toThrow(/private/);
    await expect(policy().check("https://missing.test/hook")).rejects.toThrow(/does not resolve/);
    await expect(policy().check("http://public.test/hook")).rejects.toThrow(/must be https/);
    // Allowed hosts: http, private addresses, compared case-insensitively, trailing dot or not.
    await expect(policy(["inside.test"]).check("http://INSIDE.test./hook")).resolves.toBeInstanceOf(URL);
    await expect(policy(["::1"]).check("http://[::1]:8080/hook")).resolves.toBeInstanceOf(URL);
  });

  it("picks the address to connect to at delivery, checked again", async () => {
    const p = policy();
    expect(await p.addressFor(new URL("https://public.test/x"))).toEqual({ address: "198.51.100.1", family: 4 });
    expect(await p.addressFor(new URL("https://198.51.100.9/x"))).toEqual({ address: "198.51.100.9", family: 4 });
    names["public.test"] = ["127.0.0.1"];
    await expect(p.addressFor(new URL("https://public.test/x"))).rejects.toThrow(/resolves to 127.0.0.1, a loopback address/);
    expect(await policy(["inside.test"]).addressFor(new URL("http://inside.test/x"))).toEqual({ address: "10.0.0.5", family: 4 });
  });
});

describe("one POST", () => {
  const loopback = { address: "127.0.0.1", family: 4 as const };
  const send = (url: string, timeoutMs = 5_000) => post({ url: new URL(url), address: loopback, headers: {}, body: "{}", timeoutMs, maxResponseBytes: 4096 });

  it("connects to the address given, whatever the name, with the name as Host", async () => {
    const receiver = await startReceiver(() => 204);
    try {
      // unresolvable.invalid is never resolved: the checked address is used.
      expect(await send(`http://unresolvable.invalid:${receiver.port}/x`)).toEqual({ status: 204 });
      expect(receiver.deliveries[0]!.headers.host).toBe(`unresolvable.invalid:${receiver.port}`);
    } finally {
      await receiver.close();
    }
  });

  it("does not follow redirects", async () => {
    const target = await startReceiver(() => 200);
    const server = createServer((_req, res) => res.writeHead(307, { location: target.url() }).end()).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      expect(await send(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).toEqual({ status: 307 });
      expect(target.deliveries).toHaveLength(0);
    } finally {
      server.close();
      await target.close();
    }
  });

  it("reads a few KB of an answer at most", async () => {
    let written = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200);
      // An endless body: the POST must end after its 4 KiB without waiting for the rest.
      const more = () => {
        while (res.write(Buffer.alloc(64 * 1024))) written += 64 * 1024;
      };
      res.on("drain", more);
      res.on("error", () => {});
      more();
    }).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      expect(await send(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).toEqual({ status: 200 });
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("ends an attempt that gets no answer in time", async () => {
    const receiver = await startReceiver(() => "hang");
    try {
      expect(await send(receiver.url(), 300)).toEqual({ error: "timed out after 300ms" });
    } finally {
      await receiver.close();
    }
  });
});

import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { pageFixture } from "./helpers/browser.js";
import { beforeAll, describe, expect, it } from "vitest";

const shots = new URL("../test-results/", import.meta.url).pathname;

/** The dashboard and GraphiQL in headless Debian Chromium, against the real service (the chat page: chat-browser.test.ts). */
describe("pages in a browser", () => {
  const fixture = pageFixture();

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    for (const [i, tag] of ["support", "sales", "support"].entries()) {
      await fixture.gql(`mutation($e: String, $t: [String!]) { createSession(input: { type: "chat", externalId: $e, tags: $t }) { isCached } }`, { e: `ticket-${i}`, t: [tag] });
    }
  });

  const page = async (path: string): Promise<Page> => {
    const p = await fixture.browser.newPage({ viewport: { width: 1200, height: 800 } });
    await p.goto(`${fixture.server.url}${path}#token=${fixture.key}`);
    return p;
  };

  it("lists, filters and opens sessions, and tails a channel live", async () => {
    const p = await page("/");
    await p.getByTestId("session-row").first().waitFor();
    expect(await p.getByTestId("session-row").count()).toBeGreaterThanOrEqual(3);
    await p.fill('input[name="tag"]', "support");
    await p.click('form[data-testid="filters"] button');
    await expect.poll(() => p.getByTestId("total").textContent()).toBe("2 sessions");
    await p.getByTestId("session-row").filter({ hasText: "ticket-2" }).click();
    await p.getByTestId("channel-OUT").waitFor();
    await fixture.gql(`mutation { appendToSession(id: "ticket-2", io: OUT, records: [{ data: { text: "live from the task" } }]) { lastSeqNum } }`);
    await p.getByTestId("channel-OUT").getByText("live from the task").waitFor({ timeout: 10_000 });
    await p.screenshot({ path: `${shots}dashboard.png`, fullPage: true });
    await p.getByTestId("close").click();
    await expect.poll(() => p.getByTestId("detail-status").textContent()).toBe("CLOSED");
    await p.close();
  }, 60_000);

  it("serves GraphiQL from its own assets, with the example operations", async () => {
    const p = await fixture.browser.newPage();
    const external: string[] = [];
    p.on("request", (r) => !r.url().startsWith(fixture.server.url) && !r.url().startsWith("data:") && !r.url().startsWith("blob:") && external.push(r.url()));
    await p.goto(`${fixture.server.url}/graphql`);
    await p.locator(".graphiql-container").first().waitFor({ timeout: 20_000 });
    await expect.poll(async () => (await p.content()).includes("appendToSession")).toBe(true);
    expect(external).toEqual([]);
    await p.close();
  }, 60_000);
});

import type { BrowserContext } from "playwright-core";
import { describe, expect, it } from "vitest";
import { pageFixture } from "./helpers/browser.js";
import { gqlClient } from "./helpers/test-server.js";

/** How long one step may take on a loaded machine (the page waits on events, never on time). */
const WAIT = 60_000;

/**
 * The /chat page in Chromium against hostile input (issue #14): records a page token wrote, and a
 * link carrying someone else's token.
 */
describe("the /chat page under attack", () => {
  const fixture = pageFixture();

  const mint = async (scopes: string[]) => (await fixture.gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: scopes })).data!.createPublicAccessToken.token as string;
  const withContext = async (run: (context: BrowserContext, errors: string[]) => Promise<void>) => {
    const context = await fixture.browser.newContext();
    const errors: string[] = [];
    context.on("page", (p) => p.on("pageerror", (e) => errors.push(String(e))));
    try {
      await run(context, errors);
    } finally {
      await context.close();
    }
  };

  it("a conversation holding records that are not UI messages still shows, as text", { timeout: 180_000 }, async () => {
    const chatId = `hostile-${Date.now().toString(36)}`;
    const page = gqlClient(fixture.server.url, await mint([`input:sessions:${chatId}`]));
    expect((await page(`mutation($id: String!) { createSession(input: { type: "chat", externalId: $id }) { session { id } } }`, { id: chatId })).errors).toBeUndefined();
    const messages = [
      { id: "a", role: "user", parts: [null, 42, { type: 7 }, { type: "text", text: { toString: 0 } }] },
      { id: "b", role: "user", parts: [{ type: "file", filename: { x: 1 } }, { type: "tool-x", state: { approved: true } }] },
      { id: "c", role: "user", parts: [{ type: "text", text: "<img src=x onerror=\"document.title='owned'\">after the hostile ones" }] },
    ];
    const r = await page(`mutation($id: ID!, $records: [AppendRecordInput!]!) { appendToSession(id: $id, io: IN, records: $records) { firstSeqNum } }`, {
      id: chatId,
      records: messages.map((message) => ({ data: { type: "chat.message", message } })),
    });
    expect(r.errors).toBeUndefined();
    await withContext(async (context, errors) => {
      const p = await context.newPage();
      await p.goto(`${fixture.server.url}/chat?session=${chatId}#token=${fixture.key}`);
      await p.getByTestId("composer").waitFor({ timeout: WAIT });
      await p.getByText("after the hostile ones").waitFor({ timeout: WAIT });
      expect(await p.locator(".chat img").count()).toBe(0);
      expect(await p.title()).not.toBe("owned");
      expect(errors).toEqual([]);
    });
  });

  it("a /chat link carrying another token does not replace the dashboard's key in this browser", { timeout: 180_000 }, async () => {
    const theirs = await mint([`write:sessions:their-chat`]);
    await withContext(async (context) => {
      const dashboard = await context.newPage();
      await dashboard.goto(`${fixture.server.url}/#token=${fixture.key}`);
      await dashboard.getByTestId("total").waitFor({ timeout: WAIT });
      // The link someone sent: their chat, their token.
      const chat = await context.newPage();
      await chat.goto(`${fixture.server.url}/chat?session=their-chat#token=${theirs}`);
      await chat.getByTestId("composer").waitFor({ timeout: WAIT });
      // This browser's key is still the one the dashboard finds, opened again without a token in its address.
      expect(await chat.evaluate(() => localStorage.getItem("sessions.token"))).toBe(fixture.key);
      const again = await context.newPage();
      await again.goto(`${fixture.server.url}/`);
      await again.getByTestId("total").waitFor({ timeout: WAIT });
    });
  });
});

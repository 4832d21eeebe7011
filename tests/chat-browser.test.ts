import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { pageFixture } from "./helpers/browser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveChat, type ChatServer } from "../client/src/index.js";
import { chatEvents, ScriptedAgent } from "./helpers/chat.js";

const shots = new URL("../test-results/", import.meta.url).pathname;
/** How long one step may take on a loaded machine (the page waits on events, never on time). */
const WAIT = 60_000;
const LONG = "Sessions keep this conversation in two channels, so a reload, a second tab or a restarted agent all pick it up where it was.";

/**
 * The React /chat page (useChat over SessionsChatTransport) in headless Debian Chromium against
 * the real service, answered by serveChat in this process with a scripted model whose replies
 * can be held mid-way: every step waits on what the page shows or on an agent event.
 */
describe("the /chat page (React + useChat)", () => {
  const fixture = pageFixture();
  const agent = new ScriptedAgent(LONG);
  const { onEvent, until } = chatEvents();
  let served: ChatServer;
  // Each run has an environment of its own, so the name of the README's walk-through is free.
  const chatId = "demo-chat";

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    served = serveChat({
      url: fixture.server.url,
      token: fixture.key,
      chatId,
      respond: agent.respond,
      onEvent,
    });
  });
  afterAll(() => served?.close());

  const open = async (): Promise<Page> => {
    const p = await fixture.browser.newPage({ viewport: { width: 900, height: 700 } });
    p.on("pageerror", (e) => console.error("page error:", e));
    await p.goto(`${fixture.server.url}/chat?session=${chatId}#token=${fixture.key}`);
    await p.getByTestId("composer").waitFor({ timeout: WAIT });
    return p;
  };
  const say = async (p: Page, text: string) => {
    await p.fill('form[data-testid="composer"] input', text);
    await p.getByTestId("send").click();
  };
  const assistant = (p: Page) => p.getByTestId("assistant-message");
  const done = (p: Page, text: string) => p.locator('[data-testid="assistant-message"][data-state="done"]', { hasText: text }).waitFor({ timeout: WAIT });
  const read = async (p: Page) => ({ user: await p.getByTestId("user-message").allTextContents(), assistant: await assistant(p).allTextContents() });
  const full = (text: string) => agent.reply(text);

  it("sends, streams the reply as it is written, stops a reply, resumes one after a reload, and shows two tabs the same chat", async () => {
    const p = await open();

    // Send, and the reply streams: held after a few words, it shows partly, marked as being written.
    let hold = agent.hold(6);
    await say(p, "hello there");
    await hold.reached;
    await p.locator('[data-testid="assistant-message"][data-state="streaming"]', { hasText: "You said: hello" }).waitFor({ timeout: WAIT });
    hold.release();
    await done(p, full("hello there"));

    // Stop: the agent's reply is aborted; the words so far stay; the next message is answered.
    hold = agent.hold(3);
    await say(p, "tell me a story");
    await hold.reached;
    await p.locator('[data-testid="assistant-message"][data-state="streaming"]', { hasText: "You said:" }).waitFor({ timeout: WAIT });
    await p.getByTestId("stop").click();
    await agent.calls[1]!.aborted;
    expect(await until((e) => e.type === "turn-end" && e.inSeqNum === 1)).toMatchObject({ reason: "stopped" });
    await p.getByTestId("send").waitFor();
    hold.release();
    await say(p, "still there?");
    await done(p, full("still there?"));
    expect((await read(p)).assistant[1]).not.toBe(full("tell me a story"));

    // Reload mid-reply: the page comes back with the conversation once and the reply, whole.
    hold = agent.hold(4);
    await say(p, "reload me");
    await hold.reached;
    await p.locator('[data-testid="assistant-message"]', { hasText: "You said: reload" }).waitFor({ timeout: WAIT });
    await p.reload();
    await p.getByTestId("composer").waitFor({ timeout: WAIT });
    await p.locator('[data-testid="assistant-message"]', { hasText: "You said: reload" }).waitFor({ timeout: WAIT });
    hold.release();
    await done(p, full("reload me"));
    const afterReload = await read(p);
    expect(afterReload.user).toEqual(["hello there", "tell me a story", "still there?", "reload me"]);
    expect(afterReload.assistant).toHaveLength(4);
    expect(afterReload.assistant[3]).toBe(full("reload me"));

    // A second tab: the same conversation, another tab's message and its live reply.
    const q = await open();
    await expect.poll(() => read(q), { timeout: WAIT }).toEqual(afterReload);
    hold = agent.hold(3);
    await say(p, "from the first tab");
    await hold.reached;
    await q.getByTestId("user-message").filter({ hasText: "from the first tab" }).waitFor({ timeout: WAIT });
    await q.locator('[data-testid="assistant-message"][data-state="streaming"]', { hasText: "You said: from" }).waitFor({ timeout: WAIT });
    // docs/chat.png is this picture: the second tab, mid-reply to the first tab's message.
    await q.screenshot({ path: `${shots}chat-mid-reply.png`, fullPage: true });
    hold.release();
    await done(q, full("from the first tab"));
    await say(q, "and from the second");
    await done(p, full("and from the second"));
    await expect.poll(() => read(q), { timeout: WAIT }).toEqual(await read(p));
    expect((await read(p)).user.slice(-2)).toEqual(["from the first tab", "and from the second"]);

    // Closing the session shows both tabs a closed conversation.
    await fixture.gql(`mutation($id: ID!) { closeSession(id: $id) { status } }`, { id: chatId });
    await p.getByTestId("closed").waitFor({ timeout: WAIT });
    await q.getByTestId("closed").waitFor({ timeout: WAIT });
    await p.screenshot({ path: `${shots}chat.png`, fullPage: true });
    await q.close();
    await p.close();

    // The dashboard reads the chat's channels as a conversation, a line per turn.
    const d = await fixture.browser.newPage({ viewport: { width: 1200, height: 900 } });
    // After /chat, so a page's headers are not another page's (they once carried its content-length).
    await d.goto(`${fixture.server.url}/#token=${fixture.key}`);
    await d.getByTestId("session-row").filter({ hasText: chatId }).click();
    const out = d.getByTestId("channel-OUT");
    await out.getByText(`reply to in#0: ${full("hello there")} (finished`).waitFor({ timeout: WAIT });
    await out.getByText(/reply to in#1: You said: tell.* \(stopped/).waitFor();
    await d.getByTestId("channel-IN").getByText("user: tell me a story").waitFor();
    await d.getByTestId("channel-IN").getByText("stop the reply to in#1").waitFor();
    await d.screenshot({ path: `${shots}chat-dashboard.png`, fullPage: true });
    await d.close();
  }, 300_000);
});

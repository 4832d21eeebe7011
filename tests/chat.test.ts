import { Chat } from "@ai-sdk/react";
import type { UIMessage } from "ai";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { loadChat, loadChatSnapshot, serveChat, SessionsChatTransport, textOf, type ChatServer } from "../client/src/index.js";
import { chatEvents, chatIdFor, readReply, ScriptedAgent, userMessage } from "./helpers/chat.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const lines = (messages: UIMessage[]) => messages.map((m) => `${m.role}: ${textOf(m)}`);

/**
 * The chat layer end to end: the AI SDK's own readers (readUIMessageStream, the Chat class that
 * useChat wraps) drive SessionsChatTransport against the real service, and serveChat answers
 * with streamText on a mock model. Every wait is on an event (a held reply reaching its hold, a
 * serveChat event, a status); nothing sleeps.
 */
describe.each(["sse", "ws"] as const)("chat over %s", (transport) => {
  let server: TestServer;
  let key: string;
  let gql: Gql;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startServer("pglite");
    ({ secretKey: key, gql } = await server.newEnvironment());
    // Start-up alone can take a minute on a loaded machine.
  }, 180_000);
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });
  afterAll(() => server?.close());

  const connection = (token: string | (() => Promise<string>) = key) => ({ url: server.url, token, transport, webSocketImpl: WebSocket });
  const newTransport = (token?: string | (() => Promise<string>)) => {
    const t = new SessionsChatTransport(connection(token));
    cleanups.push(() => t.close());
    return t;
  };
  /** serveChat with the agent; its events are kept, and errors fail the test unless expected. */
  const serve = (chatId: string, agent: ScriptedAgent, expectErrors = false) => {
    const { events, onEvent, until } = chatEvents();
    const errors: unknown[] = [];
    const s: ChatServer = serveChat({
      ...connection(),
      chatId,
      respond: agent.respond,
      onEvent,
      onError: (e) => errors.push(e),
    });
    cleanups.push(async () => {
      await s.close();
      if (!expectErrors) expect(errors).toEqual([]);
    });
    return { server: s, events, errors, until };
  };
  const send = (t: SessionsChatTransport, chatId: string, messages: UIMessage[], abortSignal?: AbortSignal) =>
    t.sendMessages({ chatId, messages, trigger: "submit-message", messageId: undefined, abortSignal });
  const outRecords = async (chatId: string) =>
    (await gql(`query($id: ID!) { session(id: $id) { out { records(limit: 1000) { seqNum data } } } }`, { id: chatId })).data!.session.out.records as { seqNum: number; data: { type: string } }[];

  it("answers a message: the reply streams from out as the AI SDK reads it, and is stored once", async () => {
    const chatId = chatIdFor("turn");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const reply = await readReply(await send(newTransport(), chatId, [userMessage("hello there")]));
    expect(reply?.role).toBe("assistant");
    expect(textOf(reply!)).toBe("You said: hello there");
    expect(agent.calls.map((c) => c.conversation)).toEqual([["user: hello there"]]);
    const types = (await outRecords(chatId)).map((r) => r.data.type);
    expect(types[0]).toBe("chat.turn-start");
    expect(types.at(-1)).toBe("chat.turn-end");
  });

  it("gives a second turn's respond the whole conversation, and loadChat both turns", async () => {
    const chatId = chatIdFor("two-turns");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const chat = new Chat<UIMessage>({ id: chatId, transport: newTransport() });
    await chat.sendMessage({ text: "first" });
    await chat.sendMessage({ text: "second" });
    expect(chat.status).toBe("ready");
    expect(agent.calls.map((c) => c.conversation)).toEqual([["user: first"], ["user: first", "assistant: You said: first", "user: second"]]);
    expect(lines(chat.messages)).toEqual(["user: first", "assistant: You said: first", "user: second", "assistant: You said: second"]);
    const loaded = await loadChat({ ...connection(), chatId });
    expect(lines(loaded)).toEqual(lines(chat.messages));
    // The same messages, ids included: the page's useChat state and the stored chat agree.
    expect(loaded.map((m) => m.id)).toEqual(chat.messages.map((m) => m.id));
  });

  it("loads a trimmed chat from the heads and says its history is trimmed, never showing the rest as whole", async () => {
    const chatId = chatIdFor("trimmed");
    serve(chatId, new ScriptedAgent());
    const chat = new Chat<UIMessage>({ id: chatId, transport: newTransport() });
    await chat.sendMessage({ text: "first" });
    await chat.sendMessage({ text: "second" });
    expect((await loadChatSnapshot({ ...connection(), chatId })).historyTrimmed).toBe(false);
    // The first turn goes: `in` from its second message on, `out` from the second turn's start on.
    const secondTurn = (await outRecords(chatId)).filter((r) => r.data.type === "chat.turn-start")[1]!.seqNum;
    const trim = `mutation($id: ID!, $io: SessionIO!, $before: SeqNum!) { trimSessionChannel(id: $id, io: $io, beforeSeqNum: $before) { headSeqNum } }`;
    expect(codes(await gql(trim, { id: chatId, io: "IN", before: 1 }))).toEqual([]);
    expect(codes(await gql(trim, { id: chatId, io: "OUT", before: secondTurn }))).toEqual([]);
    const snapshot = await loadChatSnapshot({ ...connection(), chatId });
    expect(snapshot.historyTrimmed).toBe(true);
    expect(lines(snapshot.messages)).toEqual(["user: second", "assistant: You said: second"]);
  });

  it("coalesces a long reply into few records, the first chunk at once", async () => {
    const chatId = chatIdFor("long");
    const agent = new ScriptedAgent(2_000);
    serve(chatId, agent);
    const reply = await readReply(await send(newTransport(), chatId, [userMessage("go")]));
    expect(textOf(reply!)).toBe(agent.reply("go"));
    const chunkRecords = (await outRecords(chatId)).filter((r) => r.data.type === "chat.chunks");
    // 2,003 deltas from the model; one record per append round trip while the model outpaces them.
    expect(chunkRecords.length).toBeGreaterThanOrEqual(1);
    expect(chunkRecords.length).toBeLessThan(100);
  });

  it("resumes a reply after a reload: a new transport replays it whole, once, and null after the turn", async () => {
    const chatId = chatIdFor("reload");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const hold = agent.hold(2);
    const first = newTransport();
    const message = userMessage("are you there");
    const reader = (await send(first, chatId, [message])).getReader();
    await hold.reached;
    // The page has shown the first words when it goes away.
    for (;;) {
      const { value } = await reader.read();
      if (value?.type === "text-delta") break;
    }
    await reader.cancel();
    await first.close();

    const reloaded = newTransport();
    const partial = await loadChat({ ...connection(), chatId });
    expect(lines(partial)[0]).toBe("user: are you there");
    const chat = new Chat<UIMessage>({ id: chatId, messages: partial, transport: reloaded });
    const resumed = chat.resumeStream();
    const replay = await reloaded.reconnectToStream({ chatId });
    expect(replay).not.toBeNull();
    hold.release();
    const [whole] = await Promise.all([readReply(replay!), resumed]);
    expect(textOf(whole!)).toBe("You said: are you there");
    // The reloaded Chat shows the conversation once, the reply complete.
    expect(lines(chat.messages)).toEqual(["user: are you there", "assistant: You said: are you there"]);
    expect(await reloaded.reconnectToStream({ chatId })).toBeNull();
    // Going away is not stopping: the agent's reply was never aborted.
    expect(agent.calls[0]!.signal.aborted).toBe(false);
  });

  it("stops a reply mid-way: respond's signal fires within a second, and the next message is answered", async () => {
    const chatId = chatIdFor("stop");
    const agent = new ScriptedAgent();
    const served = serve(chatId, agent);
    const hold = agent.hold(2);
    const chat = new Chat<UIMessage>({ id: chatId, transport: newTransport() });
    const sending = chat.sendMessage({ text: "tell me everything" });
    await hold.reached;
    await vi.waitFor(() => expect(textOf(chat.messages.at(-1)!)).toContain("You said:"), { timeout: 20_000, interval: 10 });
    const stoppedAt = performance.now();
    await chat.stop();
    await sending;
    const abortedAt = await agent.calls[0]!.aborted;
    expect(abortedAt - stoppedAt).toBeLessThan(1_000);
    await served.until((e) => e.type === "turn-end" && e.reason === "stopped");
    hold.release();
    await chat.sendMessage({ text: "short one" });
    expect(lines(chat.messages).slice(-2)).toEqual(["user: short one", "assistant: You said: short one"]);
    expect(agent.calls).toHaveLength(2);
    expect(agent.calls[1]!.signal.aborted).toBe(false);
  });

  it("stops a reply that has not started yet: the agent ends it at once", async () => {
    const chatId = chatIdFor("stop-early");
    const t = newTransport();
    const aborting = new AbortController();
    // No agent yet: the message waits, and the page stops waiting for its reply.
    const stream = await send(t, chatId, [userMessage("never mind")], aborting.signal);
    aborting.abort();
    expect(await readReply(stream)).toBeUndefined();
    // The stop record is on `in` before any agent runs.
    await expect.poll(async () => (await gql(`query($id: ID!) { session(id: $id) { in { tailSeqNum } } }`, { id: chatId })).data!.session.in.tailSeqNum, { timeout: 10_000, interval: 20 }).toBe(2);
    const agent = new ScriptedAgent();
    const served = serve(chatId, agent);
    expect(await served.until((e) => e.type === "turn-end")).toMatchObject({ inSeqNum: 0, reason: "stopped" });
    expect(agent.calls).toHaveLength(0);
  });

  it("answers, after a restart, the message that waited while no agent ran, once, and nothing older", async () => {
    const chatId = chatIdFor("restart");
    const before = new ScriptedAgent();
    const first = serve(chatId, before);
    const t = newTransport();
    expect(textOf((await readReply(await send(t, chatId, [userMessage("one")])))!)).toBe("You said: one");
    await first.server.close();

    const waiting = send(t, chatId, [userMessage("two")]);
    const after = new ScriptedAgent();
    const second = serve(chatId, after);
    expect(textOf((await readReply(await waiting))!)).toBe("You said: two");
    // Back to waiting, for the record after "two": nothing else was answered.
    await second.until((e) => e.type === "waiting" && e.inSeqNum === 2);
    expect(after.calls.map((c) => c.conversation)).toEqual([["user: one", "assistant: You said: one", "user: two"]]);
    expect((await outRecords(chatId)).filter((r) => r.data.type === "chat.turn-start")).toHaveLength(2);
  });

  it("ends a turn its agent left unfinished as interrupted, without answering that message again", async () => {
    const chatId = chatIdFor("crash");
    const t = newTransport();
    const message = userMessage("lost");
    const stream = await send(t, chatId, [message]);
    // What a crashed agent leaves: a turn-start and a chunk, no turn-end.
    await gql(`mutation($id: ID!, $r: [AppendRecordInput!]!) { appendToSession(id: $id, io: OUT, records: $r) { lastSeqNum } }`, {
      id: chatId,
      r: [
        { data: { type: "chat.turn-start", inSeqNum: 0, messageId: message.id, replyId: "r0" } },
        { data: { type: "chat.chunks", turn: 0, inSeqNum: 0, chunks: [{ type: "start", messageId: "r0" }, { type: "text-start", id: "t" }, { type: "text-delta", id: "t", delta: "Half" }] } },
      ],
    });
    const agent = new ScriptedAgent();
    const served = serve(chatId, agent);
    // The reply stream ends with the turn the new agent closed.
    expect(textOf((await readReply(stream))!)).toBe("Half");
    await served.until((e) => e.type === "waiting" && e.inSeqNum === 1);
    expect(agent.calls).toHaveLength(0);
    expect((await outRecords(chatId)).at(-1)!.data).toMatchObject({ type: "chat.turn-end", turn: 0, reason: "interrupted" });
    expect(await t.reconnectToStream({ chatId })).toBeNull();
  });

  it("shows two transports on one chat the same conversation and the same live reply", async () => {
    const chatId = chatIdFor("tabs");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const a = new Chat<UIMessage>({ id: chatId, transport: newTransport() });
    const hold = agent.hold(2);
    const sending = a.sendMessage({ text: "from A" });
    await hold.reached;
    // A second tab opens the chat mid-reply: what is stored, then the live reply.
    const bTransport = newTransport();
    const b = new Chat<UIMessage>({ id: chatId, messages: await loadChat({ ...connection(), chatId }), transport: bTransport });
    const resuming = b.resumeStream();
    await vi.waitFor(() => expect(b.status).not.toBe("ready"), { timeout: 20_000, interval: 10 });
    hold.release();
    await Promise.all([sending, resuming]);
    expect(lines(b.messages)).toEqual(["user: from A", "assistant: You said: from A"]);
    expect(lines(a.messages)).toEqual(lines(b.messages));

    // Both send at once: each gets the reply to its own message.
    const [toA, toB] = await Promise.all([
      readReply(await send(newTransport(), chatId, [userMessage("x from A")])),
      readReply(await send(bTransport, chatId, [userMessage("y from B")])),
    ]);
    expect(textOf(toA!)).toBe("You said: x from A");
    expect(textOf(toB!)).toBe("You said: y from B");
    expect(lines(await loadChat({ ...connection(), chatId })).slice(2).sort()).toEqual(
      ["user: x from A", "assistant: You said: x from A", "user: y from B", "assistant: You said: y from B"].sort(),
    );
  });

  it("stores a retried send once and gives it the same reply", async () => {
    const chatId = chatIdFor("retry");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const message = userMessage("only once");
    const first = await readReply(await send(newTransport(), chatId, [message]));
    const again = await readReply(await send(newTransport(), chatId, [message]));
    expect(again).toEqual(first);
    expect(agent.calls).toHaveLength(1);
    expect(lines(await loadChat({ ...connection(), chatId }))).toEqual(["user: only once", "assistant: You said: only once"]);
  });

  it("keeps streaming a reply past its page's token expiry, asking the token function again", async () => {
    const chatId = chatIdFor("expiry");
    const agent = new ScriptedAgent();
    serve(chatId, agent);
    const issued: string[] = [];
    let current: { token: string; expiresAt: string } | undefined;
    // What a page does: a token scoped to its chat, kept until it expires, then a new one.
    const token = async () => {
      if (!current || Date.parse(current.expiresAt) <= Date.now()) {
        const r = await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s, expiresIn: "2s") { token expiresAt } }`, { s: [`input:sessions:${chatId}`] });
        current = r.data!.createPublicAccessToken;
        issued.push(current!.token);
      }
      return current!.token;
    };
    const hold = agent.hold(2);
    const chat = new Chat<UIMessage>({ id: chatId, transport: newTransport(token) });
    const sending = chat.sendMessage({ text: "slow answer" });
    await hold.reached;
    // The reply's subscription outlives its token: the service ends it at expiry, the transport asks again.
    await expect.poll(async () => codes(await gqlClient(server.url, issued[0])(`{ session(id: "${chatId}") { id } }`)), { timeout: 10_000, interval: 50 }).toEqual(["UNAUTHENTICATED"]);
    await vi.waitFor(() => expect(issued.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
    hold.release();
    await sending;
    expect(chat.error).toBeUndefined();
    expect(lines(chat.messages)).toEqual(["user: slow answer", "assistant: You said: slow answer"]);
  });

  it("surfaces a closed session as SESSION_CLOSED, on a reply in flight and on the next send", async () => {
    const chatId = chatIdFor("closed");
    const agent = new ScriptedAgent();
    const served = serve(chatId, agent, true);
    const chat = new Chat<UIMessage>({ id: chatId, transport: newTransport() });
    const hold = agent.hold(1);
    const sending = chat.sendMessage({ text: "bye" });
    await hold.reached;
    expect(codes(await gql(`mutation($id: ID!) { closeSession(id: $id) { status } }`, { id: chatId }))).toEqual([]);
    await sending;
    expect(chat.status).toBe("error");
    expect(chat.error).toMatchObject({ code: "SESSION_CLOSED" });
    hold.release();
    await served.server.done;
    await chat.sendMessage({ text: "anyone?" });
    expect(chat.error).toMatchObject({ code: "SESSION_CLOSED" });
  });
});

// An AI SDK agent on a chat session: serveChat waits for user messages on the session's `in`
// channel and streams each reply from streamText to `out`, where SessionsChatTransport (the /chat
// page's useChat) reads it. Run next to `npm start`:
//   SESSIONS_TOKEN=sk_... npx tsx examples/worker.ts demo-chat
// With OPENAI_API_KEY set it talks to an OpenAI-compatible model (OPENAI_BASE_URL for another
// server, OPENAI_MODEL for another model, default gpt-4o-mini); without, to a scripted model
// from ai/test, so it runs offline. The code path is the same either way.
import { createOpenAI } from "@ai-sdk/openai";
import { convertToModelMessages, streamText, type LanguageModel } from "ai";
import { MockLanguageModelV3, simulateReadableStream } from "ai/test";
import { serveChat, textOf } from "../client/src/index.js";

const url = process.env.SESSIONS_URL ?? "http://127.0.0.1:4000";
const token = process.env.SESSIONS_TOKEN;
const chatId = process.argv[2];
if (!token || !chatId) {
  console.error("usage: SESSIONS_TOKEN=<key> [SESSIONS_URL=...] [OPENAI_API_KEY=... OPENAI_BASE_URL=... OPENAI_MODEL=...] tsx examples/worker.ts <chat id>");
  process.exit(2);
}

/**
 * A stand-in model for offline runs: it answers "You said: <the last user message>." and a
 * sentence about itself, a word every MOCK_DELAY_MS (default 40) so the reply visibly streams.
 */
function scriptedModel(): LanguageModel {
  const delay = Number(process.env.MOCK_DELAY_MS ?? 40);
  return new MockLanguageModelV3({
    provider: "scripted",
    modelId: "you-said",
    doStream: async ({ prompt }) => {
      const lastUser = [...prompt].reverse().find((m) => m.role === "user");
      const said = lastUser?.role === "user" ? lastUser.content.map((p) => (p.type === "text" ? p.text : "")).join("") : "";
      const reply = `You said: ${said}. I am a scripted model from ai/test, streaming word by word; set OPENAI_API_KEY for a real one.`;
      const words = reply.split(/(?= )/);
      return {
        stream: simulateReadableStream({
          chunkDelayInMs: delay,
          chunks: [
            { type: "stream-start" as const, warnings: [] },
            { type: "text-start" as const, id: "text" },
            ...words.map((delta) => ({ type: "text-delta" as const, id: "text", delta })),
            { type: "text-end" as const, id: "text" },
            {
              type: "finish" as const,
              finishReason: { unified: "stop" as const, raw: "stop" },
              usage: {
                inputTokens: { total: said.length, noCache: said.length, cacheRead: undefined, cacheWrite: undefined },
                outputTokens: { total: words.length, text: words.length, reasoning: undefined },
              },
            },
          ],
        }),
      };
    },
  });
}

// Chat Completions, which OpenAI-compatible servers (vLLM, llama.cpp, Ollama, ...) speak.
const model: LanguageModel = process.env.OPENAI_API_KEY
  ? createOpenAI({ apiKey: process.env.OPENAI_API_KEY, baseURL: process.env.OPENAI_BASE_URL || undefined }).chat(process.env.OPENAI_MODEL ?? "gpt-4o-mini")
  : scriptedModel();

const server = serveChat({
  url,
  token,
  chatId,
  respond: async ({ messages, abortSignal }) =>
    streamText({
      model,
      system: "You are a helpful assistant in a chat.",
      messages: await convertToModelMessages(messages),
      abortSignal,
    }).toUIMessageStream(),
  onEvent: (e) => {
    if (e.type === "waiting") console.log(`waiting for in#${e.inSeqNum}`);
    else if (e.type === "turn-start") console.log(`< ${textOf(e.message)}`);
    else console.log(`> reply to in#${e.inSeqNum} ${e.reason}`);
  },
});
console.log(`serving chat ${chatId} with ${process.env.OPENAI_API_KEY ? `${process.env.OPENAI_MODEL ?? "gpt-4o-mini"} (OpenAI-compatible)` : "the scripted model"}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
await server.done;
console.log("the chat's session is closed");

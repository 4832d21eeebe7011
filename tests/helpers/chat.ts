import { convertToModelMessages, readUIMessageStream, streamText, type UIMessage, type UIMessageChunk } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { textOf, type RespondArgs, type ServeChatEvent } from "../../client/src/index.js";

/** A held reply: it has sent its first words and waits for release(). */
export interface Hold {
  /** Resolves once the words before the hold were handed to the SDK. */
  reached: Promise<void>;
  release(): void;
}

export interface RespondCall {
  /** The conversation respond was given, as "role: text" lines. */
  conversation: string[];
  /** Resolves with the time (performance.now) the call's abortSignal fired. */
  aborted: Promise<number>;
  signal: AbortSignal;
}

/** What a mock model streams (the provider's stream parts), named through ai/test alone. */
type ModelStream = Awaited<ReturnType<MockLanguageModelV3["doStream"]>>["stream"];
type StreamPart = ModelStream extends ReadableStream<infer P> ? P : never;

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 1, text: 1, reasoning: undefined },
};

/**
 * A scripted agent for serveChat, through the real AI SDK path: `respond` runs streamText on a
 * mock model (ai/test) and returns toUIMessageStream(), as an agent on a real model would. Each
 * reply is "You said: <text>" followed by `extra` (filler words or a text), one delta per word. hold(n) makes
 * the next reply stop after n words until released, so a test acts mid-reply on an event, not a
 * guess about timing.
 */
export class ScriptedAgent {
  calls: RespondCall[] = [];
  private holds: { afterWords: number; gate: Promise<void>; reached: () => void }[] = [];

  /** `extra`: how many filler words follow "You said: …", or a text that follows it. */
  constructor(private extra: number | string = 0) {}

  /** The next reply sends `afterWords` words, then waits for release(). */
  hold(afterWords: number): Hold {
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const reachedP = new Promise<void>((r) => (reached = r));
    this.holds.push({ afterWords, gate, reached });
    return { reached: reachedP, release };
  }

  /** The words of the reply to `text`. */
  words(text: string): string[] {
    const extra = typeof this.extra === "string" ? ` ${this.extra}`.split(/(?= )/) : Array.from({ length: this.extra }, (_, i) => ` w${i}`);
    return ["You", " said:", ...` ${text}`.split(/(?= )/), ...extra];
  }

  reply(text: string) {
    return this.words(text).join("");
  }

  respond = async ({ messages, abortSignal }: RespondArgs<UIMessage>) => {
    const aborted = new Promise<number>((resolve) => abortSignal.addEventListener("abort", () => resolve(performance.now()), { once: true }));
    this.calls.push({ conversation: messages.map((m) => `${m.role}: ${textOf(m)}`), aborted, signal: abortSignal });
    const words = this.words(textOf(messages.at(-1)!));
    const hold = this.holds.shift();
    const model = new MockLanguageModelV3({
      doStream: async () => ({
        stream: new ReadableStream<StreamPart>({
          async start(c) {
            c.enqueue({ type: "stream-start", warnings: [] });
            c.enqueue({ type: "text-start", id: "t" });
            for (const [i, delta] of words.entries()) {
              if (hold && i === hold.afterWords) {
                hold.reached();
                await hold.gate;
              }
              c.enqueue({ type: "text-delta", id: "t", delta });
            }
            if (hold && hold.afterWords >= words.length) hold.reached();
            c.enqueue({ type: "text-end", id: "t" });
            c.enqueue({ type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage });
            c.close();
          },
        }),
      }),
    });
    return streamText({ model, messages: await convertToModelMessages(messages), abortSignal }).toUIMessageStream();
  };
}

let counter = 0;
/** A user message as useChat makes one. */
export const userMessage = (text: string, id = `m${Date.now().toString(36)}${++counter}`): UIMessage => ({ id, role: "user", parts: [{ type: "text", text }] });

/** Reads a reply stream through the AI SDK's own reader: the message as it ends. */
export async function readReply(stream: ReadableStream<UIMessageChunk>): Promise<UIMessage | undefined> {
  let last: UIMessage | undefined;
  for await (const message of readUIMessageStream({ stream })) last = message;
  return last;
}

export const chatIdFor = (name: string) => `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** serveChat's events as they come (`onEvent`), and a wait for one: resolves once an event matching `match` has happened (or happens). */
export function chatEvents() {
  const events: ServeChatEvent[] = [];
  let waiters: (() => boolean)[] = [];
  return {
    events,
    onEvent(e: ServeChatEvent) {
      events.push(e);
      waiters = waiters.filter((w) => !w());
    },
    until: (match: (e: ServeChatEvent) => boolean) =>
      new Promise<ServeChatEvent>((resolve) => {
        const check = () => {
          const e = events.find(match);
          if (e) resolve(e);
          return e !== undefined;
        };
        if (!check()) waiters.push(check);
      }),
  };
}

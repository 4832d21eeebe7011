import type { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { z } from "zod";

/**
 * Wake-up calls between the processes of a deployment. A signal only says that something
 * changed; the data always comes from the database or the stream store, so a lost signal delays
 * nothing that the next one does not repair.
 */
const signalSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("append"), sessionId: z.string(), io: z.enum(["OUT", "IN"]), tail: z.number() }),
  z.object({ kind: z.literal("session"), sessionId: z.string(), closed: z.boolean() }),
  z.object({ kind: z.literal("waitpoint"), waitpointId: z.string() }),
  /** Public access tokens of the environment issued before `before` (ms since the epoch) no longer count. */
  z.object({ kind: z.literal("revoke"), environmentId: z.string(), before: z.number() }),
  /** The environment's secret keys or signing keys changed: cached credentials must be read again. */
  z.object({ kind: z.literal("credentials"), environmentId: z.string() }),
]);
/**
 * Said by a process to itself only, never sent: signals of other processes may have been missed
 * (its connection to them was lost and is back). Whoever relies on them looks again.
 */
export interface MissedSignal {
  kind: "missed";
}
export type Signal = z.infer<typeof signalSchema> | MissedSignal;
export type SignalHandler = (signal: Signal) => void;

/**
 * The topics signals travel on between processes: a channel's appends, a session's changes, a
 * waitpoint's. A process hears a topic's signals from others only while it listens to it (see
 * Signals.listen), so a node hears about the channels, sessions and waitpoints it serves, not every
 * one of the deployment. Signals without a topic (revocations, changed keys) reach every process.
 */
export const topics = {
  channel: ({ sessionId, io }: { sessionId: string; io: "OUT" | "IN" }) => `channel:${sessionId}/${io}`,
  session: (sessionId: string) => `session:${sessionId}`,
  waitpoint: (waitpointId: string) => `waitpoint:${waitpointId}`,
};

/** The topic a signal travels on; undefined for those every process hears. */
export function topicOf(signal: Signal): string | undefined {
  switch (signal.kind) {
    case "append":
      return topics.channel(signal);
    case "session":
      return topics.session(signal.sessionId);
    case "waitpoint":
      return topics.waitpoint(signal.waitpointId);
    default:
      return undefined;
  }
}

/** A topic listened to, until released. */
export interface Listening {
  /**
   * Resolves once the topic's signals from other processes are heard. One sent before then may
   * have been missed: whoever listens looks at what it watches once more after this. Absent when
   * nothing can have been missed (one process hears every signal).
   */
  ready?: Promise<void>;
  /** Stops listening (for this holder: a topic is heard while anyone listens). Idempotent. */
  release(): void;
}

export interface Signals {
  /** To this process's handlers at once, and to the other processes that listen to its topic (or all, without one). */
  publish(signal: Signal): void;
  /** Every signal this process hears: its own, those without a topic, and those of the topics it listens to. */
  subscribe(handler: SignalHandler): () => void;
  /** Hears `topic`'s signals from other processes too, until released. */
  listen(topic: string): Listening;
  close(): Promise<void>;
}

const heard: Listening = { release() {} };

export class LocalSignals implements Signals {
  private handlers = new Set<SignalHandler>();

  publish(signal: Signal) {
    for (const handler of this.handlers) handler(signal);
  }

  subscribe(handler: SignalHandler) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** One process: every signal is heard already. */
  listen(_topic: string): Listening {
    return heard;
  }

  async close() {
    this.handlers.clear();
  }
}

/** The Redis channel of signals without a topic; a topic's is this, ":", and the topic. */
const CHANNEL = "sessions:signals";
const channelOf = (topic: string | undefined) => (topic === undefined ? CHANNEL : `${CHANNEL}:${topic}`);

/**
 * Local delivery at once, and Redis pub/sub to the other processes: one Redis channel per topic,
 * subscribed while something in this process listens to it (as graphql-yoga's Redis event target
 * subscribes per topic), so a node hears about what it serves only.
 */
export class RedisSignals extends LocalSignals {
  private origin = randomUUID();
  /** Topics listened to, by how many holders, with their subscription's confirmation. */
  private listening = new Map<string, { holders: number; ready: Promise<void>; confirmed: boolean }>();
  /** Signals received from Redis, by kind: what a node that does not listen to a topic must not see grow. */
  readonly received = new Map<Signal["kind"], number>();

  private constructor(
    private publisher: Redis,
    private subscriber: Redis,
    private onError: (error: unknown) => void,
  ) {
    super();
    subscriber.on("message", (_channel: string, text: string) => {
      try {
        const { origin, signal } = JSON.parse(text) as { origin: string; signal: unknown };
        if (origin === this.origin) return;
        const parsed = signalSchema.parse(signal);
        this.received.set(parsed.kind, (this.received.get(parsed.kind) ?? 0) + 1);
        super.publish(parsed);
      } catch (error) {
        onError(error);
      }
    });
    // ioredis reconnects and subscribes again by itself, but what was sent meanwhile is lost: a
    // revocation, a rename. Once a command sent after its resubscriptions (made right after this
    // event) is answered, they are in place, and this process's handlers are told to look again.
    subscriber.on("ready", () => {
      setImmediate(() => {
        subscriber.subscribe(CHANNEL).then(() => super.publish({ kind: "missed" }), onError);
      });
    });
  }

  static async connect(redis: Redis, onError: (error: unknown) => void) {
    const subscriber = redis.duplicate();
    subscriber.on("error", onError);
    await subscriber.subscribe(CHANNEL);
    return new RedisSignals(redis, subscriber, onError);
  }

  override publish(signal: Signal) {
    super.publish(signal);
    if (signal.kind === "missed") return;
    this.publisher.publish(channelOf(topicOf(signal)), JSON.stringify({ origin: this.origin, signal })).catch(this.onError);
  }

  override listen(topic: string): Listening {
    let entry = this.listening.get(topic);
    if (entry) entry.holders++;
    else {
      // Subscribing cannot fail for long: ioredis queues it while reconnecting and resubscribes
      // after. Should it fail, the topic is as unheard as it was; the holder goes on regardless.
      const created = { holders: 1, ready: Promise.resolve(), confirmed: false };
      created.ready = this.subscriber.subscribe(channelOf(topic)).then(
        () => void (created.confirmed = true),
        (error: unknown) => this.onError(error),
      );
      this.listening.set(topic, (entry = created));
    }
    let released = false;
    return {
      // Heard already (another holder's subscription is confirmed): nothing can have been missed.
      ...(!entry.confirmed && { ready: entry.ready }),
      release: () => {
        if (released) return;
        released = true;
        const current = this.listening.get(topic);
        if (!current || --current.holders > 0) return;
        this.listening.delete(topic);
        this.subscriber.unsubscribe(channelOf(topic)).catch(this.onError);
      },
    };
  }

  override async close() {
    await super.close();
    this.subscriber.disconnect();
  }
}

export const sessionChanged = (session: { id: string; closedAt: Date | null }): Signal => ({
  kind: "session",
  sessionId: session.id,
  closed: session.closedAt !== null,
});

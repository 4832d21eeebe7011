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
export type Signal = z.infer<typeof signalSchema>;
export type SignalHandler = (signal: Signal) => void;

export interface Signals {
  publish(signal: Signal): void;
  subscribe(handler: SignalHandler): () => void;
  close(): Promise<void>;
}

export class LocalSignals implements Signals {
  private handlers = new Set<SignalHandler>();

  publish(signal: Signal) {
    for (const handler of this.handlers) handler(signal);
  }

  subscribe(handler: SignalHandler) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  async close() {
    this.handlers.clear();
  }
}

const CHANNEL = "sessions:signals";

/** Local delivery at once, and Redis pub/sub to every other process. */
export class RedisSignals extends LocalSignals {
  private origin = randomUUID();

  private constructor(
    private publisher: Redis,
    private subscriber: Redis,
    private onError: (error: unknown) => void,
  ) {
    super();
    subscriber.on("message", (_channel: string, text: string) => {
      try {
        const { origin, signal } = JSON.parse(text) as { origin: string; signal: unknown };
        if (origin !== this.origin) super.publish(signalSchema.parse(signal));
      } catch (error) {
        onError(error);
      }
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
    this.publisher.publish(CHANNEL, JSON.stringify({ origin: this.origin, signal })).catch(this.onError);
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

import { ApiError, forbidden, notFound, unauthenticated } from "../errors/index.js";
import { AsyncQueue, topics, type Signal, type Signals } from "../live/index.js";
import type { Session } from "../sessions/index.js";
import type { Authentication, Credential, Principal } from "./principal.js";
import { can, canAll } from "./scopes.js";

/** What a live subscription needs to re-check its caller's rights. */
export interface LiveCaller {
  principal: Principal;
  /** Authenticates the caller's credential again, e.g. after its environment's keys changed. */
  reauthenticate(): Promise<Authentication>;
  /**
   * LiveAccess.mark() as the request's rights were checked (at its context's creation): a change of
   * the session heard since makes the guard check again as it starts. Default: always check.
   */
  since?: number;
}

export interface GuardOptions<T> {
  /** The session whose read access the subscription needs all along. */
  sessionId: string;
  /** For events that carry their session: checked before each is delivered. */
  sessionOf?: (event: T) => Session | undefined;
  /**
   * Releases what the source holds (watch queues, timers) when the subscription ends, however it
   * ends: a generator parked in an `await` runs its `finally` only once that await settles.
   */
  onEnd?: () => void;
}

/** What the registry needs of a guarded subscription, whatever its events are. */
interface Cuttable {
  readonly caller: LiveCaller;
  cut(error: ApiError): void;
  /** Delivers nothing more until `check` has settled: the check decides whether it may. */
  hold(check: Promise<unknown>): void;
  /** The credential's expiry as authentication now sees it (a rotated-out key gets one). */
  expireAt(expiresAt: number): void;
  return(): Promise<unknown>;
}

/**
 * The last event of a subscription whose rights ended. It is resolved like any event, into a
 * result whose error is this one (see `admitted`), so every transport delivers it the same way
 * before the stream completes.
 */
export class LiveRefusal {
  constructor(readonly error: ApiError) {}
}

/** For a guarded field's resolver: the event itself, or the refusal that ends the stream, thrown. */
export function admitted<T>(event: T | LiveRefusal): T {
  if (event instanceof LiveRefusal) throw event.error;
  return event;
}

const expired = (credential: Credential) =>
  unauthenticated(credential.kind === "token" ? "access token expired" : "secret key expired: it was rotated");

/** Sessions whose last change LiveAccess remembers, for guards that open while it happens. */
const CHANGES_KEPT = 10_000;

/** setTimeout's longest delay; tokens may live longer (up to 30 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Ends live subscriptions once their caller's rights end: at the token's expiry (a timer), on
 * revocation and on changed keys (signals, across nodes through Redis when configured), and when
 * the session is renamed or removed away from the caller's scopes (its change signal, then one
 * read shared by all its subscriptions). One check per change, never a database read per record.
 */
export class LiveAccess {
  private byEnvironment = new Map<string, Set<Cuttable>>();
  /**
   * Every guard, by its session: a change re-checks those whose access depends on what the session
   * is called, and a deletion ends them all, `read:all` included.
   */
  private bySession = new Map<string, Set<Cuttable>>();
  private unsubscribe: () => void;
  /** Session and key-change signals heard so far, and the number of the last one of each session (the latest CHANGES_KEPT sessions). */
  private heard = 0;
  private changes = new Map<string, number>();
  /** Changes numbered up to this one were dropped from `changes`: a mark before it must assume a change. */
  private forgotten = 0;
  /**
   * Per environment, the latest revocation heard (tokens issued before it are refused) and the
   * number of the last change of its keys: a request authenticated before either was heard opens
   * its guard after the signal went by, so the guard looks at them as it starts.
   */
  private revokedBefore = new Map<string, number>();
  private keysChanged = new Map<string, number>();
  /** The mark of the last time other processes' signals may have been missed: as a change of every session and key. */
  private missed = 0;

  constructor(
    private signals: Signals,
    private loadSession: (id: string) => Promise<Session | null>,
    private onError: (error: unknown) => void,
  ) {
    this.unsubscribe = signals.subscribe((signal) => this.onSignal(signal));
  }

  /** `source`, ended with UNAUTHENTICATED, FORBIDDEN or NOT_FOUND as soon as the caller may no longer read the session. */
  guard<T>(caller: LiveCaller, source: AsyncIterator<T>, options: GuardOptions<T>): AsyncIterableIterator<T | LiveRefusal> {
    const { environmentId } = caller.principal;
    // Renames and deletes made on other nodes: heard while the guard lives.
    const listening = this.signals.listen(topics.session(options.sessionId));
    const guard: Guard<T> = new Guard(source, caller, options, () => {
      listening.release();
      remove(this.byEnvironment, environmentId, guard);
      remove(this.bySession, options.sessionId, guard);
    });
    add(this.byEnvironment, environmentId, guard);
    add(this.bySession, options.sessionId, guard);
    // The request's scope check came before this guard existed: a rename or a delete in between
    // reached no guard. One read, with the events held until it is done, closes that gap: once
    // other nodes' changes are heard (a new topic), or at once when this node heard a change of the
    // session since the check. Otherwise nothing can have changed, and a subscription opens without
    // a read of its own.
    const { since } = caller;
    // Revoked, or keys changed, between the request's authentication and now: those signals reached no guard.
    const { credential } = caller.principal;
    if (credential.kind === "token" && credential.issuedAt < (this.revokedBefore.get(environmentId) ?? 0)) {
      guard.cut(unauthenticated("access token revoked"));
      return guard;
    }
    if (Math.max(this.keysChanged.get(environmentId) ?? 0, this.missed) > (since ?? 0)) this.checking([guard], this.reauthenticate([guard]));
    if (listening.ready) this.checking([guard], listening.ready.then(() => this.recheck(options.sessionId, [guard])));
    else if (since === undefined || since < this.forgotten || (this.changes.get(options.sessionId) ?? 0) > since) {
      this.checking([guard], this.recheck(options.sessionId, [guard]));
    }
    return guard;
  }

  /** Where the changes heard so far end: what a request notes as its rights are checked (LiveCaller.since). */
  mark(): number {
    return this.heard;
  }

  private noteChange(sessionId: string) {
    this.changes.delete(sessionId);
    this.changes.set(sessionId, ++this.heard);
    if (this.changes.size > CHANGES_KEPT) {
      const [oldest, n] = this.changes.entries().next().value as [string, number];
      this.changes.delete(oldest);
      this.forgotten = n;
    }
  }

  private onSignal(signal: Signal) {
    if (signal.kind === "revoke") {
      this.revokedBefore.set(signal.environmentId, Math.max(signal.before, this.revokedBefore.get(signal.environmentId) ?? 0));
      for (const guard of this.byEnvironment.get(signal.environmentId) ?? []) {
        const { credential } = guard.caller.principal;
        if (credential.kind === "token" && credential.issuedAt < signal.before) guard.cut(unauthenticated("access token revoked"));
      }
    } else if (signal.kind === "credentials") {
      this.keysChanged.set(signal.environmentId, ++this.heard);
      const guards = [...(this.byEnvironment.get(signal.environmentId) ?? [])];
      if (guards.length === 0) return;
      // After the other handlers of this signal, so the authenticator's cache has been dropped.
      const check = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.reauthenticate(guards));
      this.checking(guards, check);
    } else if (signal.kind === "missed") {
      // A revocation, a key change, a rename or a delete may have gone by unheard: every guard
      // authenticates again and every session is read again, and guards of requests checked before
      // now do the same as they start.
      this.missed = this.forgotten = ++this.heard;
      const all = [...this.byEnvironment.values()].flatMap((guards) => [...guards]);
      if (all.length === 0) return;
      // After the other handlers of this signal, so the authenticator's cache has been dropped.
      this.checking(all, new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.reauthenticate(all)));
      for (const [sessionId, guards] of this.bySession) this.checking([...guards], this.recheck(sessionId, [...guards]));
    } else if (signal.kind === "session") {
      this.noteChange(signal.sessionId);
      const guards = [...(this.bySession.get(signal.sessionId) ?? [])];
      if (guards.length === 0) return;
      // Only access by name can end with a rename while events flow, so only those guards hold
      // their events; `read:all` ones go on and just learn whether the session was deleted.
      const byName = guards.filter((guard) => !canAll(guard.caller.principal.grants, "read"));
      this.checking(byName, this.recheck(signal.sessionId, guards));
    }
  }

  /**
   * Holds the guards' deliveries while `check` runs: a record appended right after a rename must
   * not reach the old name's holder before the check has cut it off.
   */
  private checking(guards: Cuttable[], check: Promise<void>) {
    // A check that could not be made (the database failing) ends the guards it held, rather than
    // letting their events through unchecked: their clients resume once the check can be made.
    const settled = check.catch((error: unknown) => {
      this.onError(error);
      for (const guard of guards) guard.cut(new ApiError("INTERNAL_SERVER_ERROR", "could not check this subscription's access"));
    });
    for (const guard of guards) guard.hold(settled);
  }

  private async reauthenticate(guards: Cuttable[]) {
    await Promise.all(
      guards.map(async (guard) => {
        const auth = await guard.caller.reauthenticate();
        if (!auth.principal) guard.cut(unauthenticated(auth.failure));
        else guard.expireAt(auth.principal.credential.expiresAt);
      }),
    );
  }

  /**
   * One read for every subscription of the session: renamed away ends each that no longer covers
   * it, gone (deleteSession, retention) ends them all. `read:all` covers any name, so such guards
   * only need this read when the session may be gone.
   */
  private async recheck(sessionId: string, guards: Cuttable[]) {
    const session = await this.loadSession(sessionId);
    for (const guard of guards) {
      if (!session || session.environmentId !== guard.caller.principal.environmentId) guard.cut(notFound(`session ${JSON.stringify(sessionId)}`));
      else if (!can(guard.caller.principal.grants, "read", session)) guard.cut(forbidden("this token's scopes no longer cover the session"));
    }
  }

  close() {
    this.unsubscribe();
    for (const guards of this.byEnvironment.values()) for (const guard of guards) void guard.return();
  }
}

function add<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function remove<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
  const set = map.get(key);
  if (set?.delete(value) && set.size === 0) map.delete(key);
}

/** One guarded subscription: its source's events, until its caller's rights end. */
class Guard<T> implements AsyncIterableIterator<T | LiveRefusal>, Cuttable {
  private failure: ApiError | undefined;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  /** A re-check in flight: events wait for it. */
  private held: Promise<unknown> | undefined;
  /**
   * How a cut answers the read in flight. An AsyncQueue (a channel's records) answers it `done`
   * when it is returned, and that answer becomes the refusal. Other sources (generators) may not
   * answer until their next event, so their reads are answered through `reader`, settled by the
   * source's answer or, first, by the cut.
   * Never a long-lived promise raced by every read: each race leaves a reaction on a promise that
   * does not settle, kept with its result for as long as the subscription lives (~350 bytes per
   * event per subscriber). Nor an async function per read: with a thousand subscribers of a
   * channel, each waiting read lives across minor GCs, and what it holds is promoted.
   */
  private readonly endsReads: boolean;
  private reader: { resolve: (result: IteratorResult<T | LiveRefusal>) => void; reject: (error: unknown) => void } | undefined;
  private startRead = (resolve: (result: IteratorResult<T | LiveRefusal>) => void, reject: (error: unknown) => void) => {
    this.reader = { resolve, reject };
  };

  constructor(
    private source: AsyncIterator<T>,
    readonly caller: LiveCaller,
    private options: GuardOptions<T>,
    private release: () => void,
  ) {
    this.endsReads = source instanceof AsyncQueue;
    this.expireAt(caller.principal.credential.expiresAt);
  }

  expireAt(expiresAt: number) {
    clearTimeout(this.timer);
    if (Number.isFinite(expiresAt)) this.armExpiry(expiresAt);
  }

  hold(check: Promise<unknown>) {
    const held = Promise.all([this.held, check]).then(() => {
      if (this.held === held) this.held = undefined;
    });
    this.held = held;
  }

  private armExpiry(expiresAt: number) {
    const delay = expiresAt - Date.now();
    if (delay <= 0) return this.cut(expired(this.caller.principal.credential));
    this.timer = setTimeout(() => this.armExpiry(expiresAt), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  /** Ends the subscription with `error`: the read in flight, or else the next one, answers with it. */
  cut(error: ApiError) {
    if (this.ended) return;
    this.failure = error;
    const reader = this.reader;
    this.reader = undefined;
    this.finish();
    void this.source.return?.();
    reader?.resolve(this.refusal());
  }

  /** A refusal, if the caller may no longer see this event. */
  private admit(event: T): ApiError | undefined {
    const { credential, grants } = this.caller.principal;
    if (Date.now() >= credential.expiresAt) return expired(credential);
    const session = this.options.sessionOf?.(event);
    if (session && !can(grants, "read", session)) return forbidden("this token's scopes no longer cover the session");
    return undefined;
  }

  next(): Promise<IteratorResult<T | LiveRefusal>> {
    if (this.ended) return Promise.resolve(this.refusal());
    let read: Promise<IteratorResult<T>>;
    try {
      read = this.source.next();
    } catch (error) {
      read = Promise.reject(error);
    }
    const checked = read.then(this.onRead, this.onReadFailed);
    if (this.endsReads) return checked;
    const answer = new Promise(this.startRead);
    checked.then(this.answer, this.answerFailure);
    return answer;
  }

  private onRead = (result: IteratorResult<T>): IteratorResult<T | LiveRefusal> | Promise<IteratorResult<T | LiveRefusal>> => {
    if (result.done) {
      // Cut while the read waited: the source was ended for it, and the refusal is the answer.
      if (this.failure) return this.refusal();
      this.finish();
      return result;
    }
    // A re-check started before this event was handed over decides whether it may be delivered.
    if (this.held) return this.held.then(() => this.onRead(result));
    if (this.ended) return this.refusal();
    const refusal = this.admit(result.value);
    if (refusal) {
      this.cut(refusal);
      return this.refusal();
    }
    return result;
  };

  private onReadFailed = (error: unknown): IteratorResult<T | LiveRefusal> => {
    if (this.failure) return this.refusal();
    this.finish();
    throw error;
  };

  /** The source's answer, checked, unless a cut answered first (then it is dropped). */
  private answer = (result: IteratorResult<T | LiveRefusal>) => {
    const reader = this.reader;
    this.reader = undefined;
    reader?.resolve(result);
  };

  private answerFailure = (error: unknown) => {
    const reader = this.reader;
    this.reader = undefined;
    reader?.reject(error);
  };

  /** The refusal as the stream's last event, once; then the stream is over. */
  private refusal(): IteratorResult<T | LiveRefusal> {
    const failure = this.failure;
    this.failure = undefined;
    return failure ? { value: new LiveRefusal(failure), done: false } : { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<T | LiveRefusal>> {
    this.finish();
    await this.source.return?.();
    return { value: undefined, done: true };
  }

  private finish() {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.release();
    this.options.onEnd?.();
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

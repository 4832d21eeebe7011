import { useEffect, useRef, useState } from "react";
import { isChatMessageRecord, isChatTurnStartRecord, SessionsClient, type ChatSnapshot, type Token } from "../client/src/index.js";

export interface OtherTabsOptions {
  url: string;
  token: Token;
  chatId: string;
  snapshot: ChatSnapshot;
  /** Whether the chat's session exists yet (it is created by the first send). */
  started: boolean;
  /** Whether a message is this tab's own. */
  isOwn: (messageId: string) => boolean;
  /** Whether useChat is between requests (ready or error): only then is the conversation replaced. */
  idle: boolean;
  /** Brings in what another tab did: the stored conversation, then (resume) the reply in flight. */
  refresh: (resume: boolean) => Promise<void>;
  /** The session was closed (its `out` channel completed). */
  onClosed: () => void;
}

/**
 * Another tab on the same chat (or any other client) sends messages this tab's useChat knows
 * nothing of. Both channels are followed from where the loaded conversation ends: a user message
 * that is not this tab's, or a turn-start answering one, is brought in by `refresh` once useChat
 * is idle. Only turn-starts and messages matter here; the reply itself comes through the transport.
 */
export function useOtherTabs(o: OtherTabsOptions) {
  const [seen, setSeen] = useState({ messages: 0, turns: 0 });
  const handled = useRef({ messages: 0, turns: 0 });
  const latest = useRef(o);
  latest.current = o;

  useEffect(() => {
    if (!o.started) return;
    const client = new SessionsClient({ url: o.url, token: o.token });
    const stop = new AbortController();
    const follow = async (io: "IN" | "OUT", fromSeqNum: number) => {
      for await (const { data } of client.follow(o.chatId, io, { fromSeqNum, signal: stop.signal })) {
        if (io === "IN" && isChatMessageRecord(data) && !latest.current.isOwn(data.message.id)) setSeen((s) => ({ ...s, messages: s.messages + 1 }));
        if (io === "OUT" && isChatTurnStartRecord(data) && !latest.current.isOwn(data.messageId)) setSeen((s) => ({ ...s, turns: s.turns + 1 }));
      }
      // The subscription completes when the session is closed.
      if (io === "OUT" && !stop.signal.aborted) latest.current.onClosed();
    };
    void follow("IN", o.snapshot.inTailSeqNum).catch(() => {});
    void follow("OUT", o.snapshot.outTailSeqNum).catch(() => {});
    return () => {
      stop.abort();
      void client.close();
    };
  }, [o.started, o.url, o.token, o.chatId, o.snapshot]);

  useEffect(() => {
    if (!o.idle) return;
    const before = handled.current;
    if (seen.messages === before.messages && seen.turns === before.turns) return;
    handled.current = seen;
    void latest.current.refresh(seen.turns > before.turns).catch(() => {});
  }, [o.idle, seen]);
}

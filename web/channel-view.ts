import { describeChatRecord, describeChunks, isChatChunksRecord, isChatTurnEndRecord, isChatTurnStartRecord } from "../client/src/chat/records.js";
import { el } from "./connect.js";

/**
 * How the dashboard shows a channel's records. Chat records read as a conversation: a user
 * message as "user: text", and on `out` one line per turn, its reply's text growing as chunk
 * records arrive and its outcome at the end, instead of a line of JSON per chunk batch. Anything
 * else is shown as JSON.
 */
export function channelView(into: HTMLElement) {
  const show = chatAwareView(into);
  return (record: { seqNum: number; data: unknown }) => {
    // Records are written by anyone with write over the session (a page's token): one that makes
    // the chat view stumble (a field that is no string, such as {"toString": 0}) is shown as JSON, and
    // the channel goes on being shown after it.
    try {
      show(record);
    } catch {
      into.append(el("div", { dataset: { testid: "record", seq: String(record.seqNum) }, textContent: `#${record.seqNum} ${JSON.stringify(record.data)}` }));
    }
  };
}

function chatAwareView(into: HTMLElement) {
  const turns = new Map<number, { text: HTMLElement; reason: HTMLElement }>();
  return (record: { seqNum: number; data: unknown }) => {
    const { seqNum, data } = record;
    if (isChatTurnStartRecord(data)) {
      const text = el("span", { className: "text" });
      const reason = el("span", { className: "reason", textContent: " …" });
      turns.set(seqNum, { text, reason });
      into.append(el("div", { className: "turn", dataset: { testid: "record", seq: String(seqNum), turn: String(seqNum) } }, `#${seqNum} reply to in#${data.inSeqNum}: `, text, reason));
      return;
    }
    const turn = (isChatChunksRecord(data) || isChatTurnEndRecord(data)) && turns.get(data.turn);
    if (turn && isChatChunksRecord(data)) {
      turn.text.textContent += describeChunks(data.chunks);
      return;
    }
    if (turn && isChatTurnEndRecord(data)) {
      turn.reason.textContent = ` (${data.reason}, #${seqNum})`;
      return;
    }
    const line = describeChatRecord(data);
    const role = line?.startsWith("user: ") ? "user" : "";
    into.append(el("div", { className: role, dataset: { testid: "record", seq: String(seqNum) }, textContent: `#${seqNum} ${line ?? JSON.stringify(data)}` }));
  };
}

import { useChat } from "@ai-sdk/react";
import { generateId, type UIMessage } from "ai";
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { loadChat, loadChatSnapshot, SessionsChatTransport, SessionsError, type ChatSnapshot, type Token } from "../client/src/index.js";
import { MessageBubble } from "./chat-message.js";
import { useOtherTabs } from "./chat-other-tabs.js";

export interface ChatPageProps {
  url: string;
  token: Token;
  chatId: string;
}

/** Loads the conversation as stored, then hands it to useChat. */
export function ChatPage(props: ChatPageProps) {
  const [snapshot, setSnapshot] = useState<ChatSnapshot>();
  const [failure, setFailure] = useState<string>();
  useEffect(() => {
    loadChatSnapshot({ url: props.url, token: props.token, chatId: props.chatId }).then(setSnapshot, (e: unknown) => setFailure(e instanceof Error ? e.message : String(e)));
  }, [props.url, props.token, props.chatId]);
  if (failure) return <p className="notice" data-testid="load-error">Could not load this conversation: {failure}</p>;
  if (!snapshot) return <p className="muted">Loading the conversation…</p>;
  return <Conversation {...props} snapshot={snapshot} />;
}

const isClosedError = (error: unknown) => error instanceof SessionsError && error.code === "SESSION_CLOSED";

/**
 * useChat over SessionsChatTransport: sending, the streamed reply, stop, and resume of a reply in
 * flight on load (resume: true; the transport replays it from its first chunk). Other tabs'
 * messages and replies come in through useOtherTabs.
 */
function Conversation({ url, token, chatId, snapshot }: ChatPageProps & { snapshot: ChatSnapshot }) {
  const transport = useMemo(() => new SessionsChatTransport({ url, token }), [url, token]);
  useEffect(() => () => void transport.close(), [transport]);
  const { messages, sendMessage, status, stop, error, setMessages, resumeStream } = useChat<UIMessage>({
    id: chatId,
    messages: snapshot.messages,
    transport,
    resume: true,
  });
  const [closed, setClosed] = useState(snapshot.status === "ACTIVE" ? undefined : snapshot.status.toLowerCase());
  const [started, setStarted] = useState(snapshot.sessionId !== undefined);
  const [text, setText] = useState("");
  /** Ids of the messages this tab sent: their turns are this tab's own, not another's. */
  const sent = useRef(new Set<string>());
  const statusRef = useRef(status);
  statusRef.current = status;

  useOtherTabs({
    url,
    token,
    chatId,
    snapshot,
    started,
    isOwn: (messageId) => sent.current.has(messageId),
    idle: status === "ready" || status === "error",
    onClosed: () => setClosed("closed"),
    // Another tab's message or reply: take the stored conversation, then follow the reply live.
    refresh: async (resume) => {
      const latest = await loadChat({ url, token, chatId });
      const idle = () => statusRef.current === "ready" || statusRef.current === "error";
      // A send from this tab started meanwhile: its own request shows it all.
      if (!idle()) return;
      setMessages(latest);
      if (!resume) return;
      await resumeStream();
      // A reply that ended before the resume reached it is null there: read it as stored.
      if (idle()) setMessages(await loadChat({ url, token, chatId }));
    },
  });

  const busy = status === "submitted" || status === "streaming";
  const isClosed = closed !== undefined || isClosedError(error);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const said = text.trim();
    if (!said || busy) return;
    setText("");
    const id = generateId();
    sent.current.add(id);
    await sendMessage({ id, role: "user", parts: [{ type: "text", text: said }] });
    setStarted(true);
  };

  return (
    <>
      <div className="chat" data-testid="conversation" data-status={status}>
        {snapshot.historyTrimmed && (
          <p className="muted" data-testid="history-trimmed">
            Earlier messages are no longer kept: the conversation starts here.
          </p>
        )}
        {messages.length === 0 && <p className="muted">No messages yet: say something.</p>}
        {messages.map((m, i) => (
          <MessageBubble key={m.id} message={m} streaming={busy && i === messages.length - 1 && m.role === "assistant"} />
        ))}
        {status === "submitted" && <div className="bubble assistant pending" data-testid="waiting">…</div>}
      </div>
      {error && !isClosed && (
        <p className="notice error" data-testid="error">
          {error.message}
        </p>
      )}
      {isClosed ? (
        <p className="notice" data-testid="closed">
          This conversation is {closed ?? "closed"}.
        </p>
      ) : (
        <form className="composer" data-testid="composer" onSubmit={(e) => void submit(e)}>
          <input name="text" placeholder="Say something" autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} />
          {busy ? (
            <button type="button" className="secondary" data-testid="stop" onClick={() => void stop()}>
              Stop
            </button>
          ) : (
            <button data-testid="send">Send</button>
          )}
        </form>
      )}
    </>
  );
}

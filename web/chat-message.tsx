import { isToolUIPart, type UIMessage } from "ai";

/** One message: its text, with tools, files and reasoning named; a reply being written shows a caret. */
export function MessageBubble({ message, streaming }: { message: UIMessage; streaming: boolean }) {
  const role = message.role === "user" ? "user" : "assistant";
  return (
    <div className={`bubble ${role}${streaming ? " streaming" : ""}`} data-testid={`${role}-message`} data-state={streaming ? "streaming" : "done"} data-id={message.id}>
      {message.parts.map((part, i) => {
        if (part.type === "text") return <span key={i}>{part.text}</span>;
        if (part.type === "reasoning") return <span key={i} className="muted">{part.text}</span>;
        if (part.type === "file") return <span key={i} className="muted">[{part.filename ?? part.mediaType}]</span>;
        if (isToolUIPart(part)) return <span key={i} className="muted">[{part.type.replace(/^tool-/, "")}: {part.state}]</span>;
        return null;
      })}
    </div>
  );
}

import type { UIMessage } from "ai";

/** A field of a stored record as text, or undefined: records are written by clients and may hold anything. */
const textField = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/**
 * One part as the page shows it. Parts come from records any holder of the chat's token may write,
 * so nothing in them is trusted to have the AI SDK's shape: a part that is not one is left out, and
 * only strings are rendered (React escapes them; an object as a child would throw and take the
 * whole page down).
 */
function PartView({ part }: { part: unknown }) {
  if (typeof part !== "object" || part === null) return null;
  const { type, text, filename, mediaType, state } = part as Record<string, unknown>;
  if (typeof type !== "string") return null;
  if (type === "text") return <span>{textField(text) ?? ""}</span>;
  if (type === "reasoning") return <span className="muted">{textField(text) ?? ""}</span>;
  if (type === "file") return <span className="muted">[{textField(filename) ?? textField(mediaType) ?? "file"}]</span>;
  if (type.startsWith("tool-")) {
    return <span className="muted">[{type.replace(/^tool-/, "")}: {textField(state) ?? "unknown"}]</span>;
  }
  return null;
}

/** One message: its text, with tools, files and reasoning named; a reply being written shows a caret. */
export function MessageBubble({ message, streaming }: { message: UIMessage; streaming: boolean }) {
  const role = message.role === "user" ? "user" : "assistant";
  const parts: unknown[] = Array.isArray(message.parts) ? message.parts : [];
  return (
    <div className={`bubble ${role}${streaming ? " streaming" : ""}`} data-testid={`${role}-message`} data-state={streaming ? "streaming" : "done"} data-id={textField(message.id)}>
      {parts.map((part, i) => (
        <PartView key={i} part={part} />
      ))}
    </div>
  );
}

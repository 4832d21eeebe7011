import { AppendToSessionDocument, CreateSessionDocument } from "../client/generated/graphql.js";
import type { SessionsClient } from "../client/src/sessions-client.js";
import { askForToken, connect, el } from "./connect.js";
import { mountStyles } from "./style.js";

mountStyles();
const root = document.getElementById("root")!;
const client = connect();
const conversation = new URLSearchParams(location.search).get("session") ?? "demo-chat";
if (!client) askForToken(root);
else void start(client);

/**
 * The conversation is rebuilt from the two channels alone: a reload replays both from seqNum 0,
 * so it shows every message once, complete. User messages are `in` records; the reply to the
 * `in` record n is every `out` record with replyTo n, in order.
 */
async function start(client: SessionsClient) {
  document.getElementById("session-label")!.textContent = conversation;
  const log = el("div", { className: "chat", dataset: { testid: "conversation" } });
  const composer = el("form", { className: "composer", dataset: { testid: "composer" } });
  composer.innerHTML = `<input name="text" placeholder="Say something" autocomplete="off" required><button>Send</button>`;
  root.append(log, composer);

  const { createSession } = await client.request(CreateSessionDocument, { input: { type: "chat", externalId: conversation } });
  const id = createSession.session.id;
  // A name stays taken by a closed or expired session, and createSession returns it: say so, and take no input.
  if (createSession.session.status !== "ACTIVE") {
    composer.replaceChildren(el("p", { className: "notice", dataset: { testid: "closed" }, textContent: `This conversation is ${createSession.session.status.toLowerCase()}.` }));
  }
  const bubbles = new Map<string, HTMLElement>();
  const bubble = (key: string, role: "user" | "assistant", seq: number) => {
    let b = bubbles.get(key);
    if (!b) {
      b = el("div", { className: `bubble ${role}`, dataset: { testid: `${role}-message`, seq: String(seq) } });
      bubbles.set(key, b);
      // Keep the order of the conversation: a reply sits right after its message.
      const after = role === "assistant" ? bubbles.get(`user-${seq}`) : undefined;
      if (after) after.after(b);
      else log.append(b);
    }
    return b;
  };

  void (async () => {
    for await (const r of client.follow(id, "IN", { fromSeqNum: 0 })) {
      const data = r.data as { text?: string };
      bubble(`user-${r.seqNum}`, "user", r.seqNum).textContent = data.text ?? JSON.stringify(r.data);
    }
  })();
  void (async () => {
    for await (const r of client.follow(id, "OUT", { fromSeqNum: 0 })) {
      const data = r.data as { type?: string; text?: string; replyTo?: number };
      if (typeof data.replyTo !== "number") continue;
      const b = bubble(`assistant-${data.replyTo}`, "assistant", data.replyTo);
      if (data.type === "token") {
        b.textContent += data.text ?? "";
        b.classList.add("streaming");
      } else if (data.type === "end") {
        b.classList.remove("streaming");
        b.dataset.done = "true";
      }
    }
  })();

  composer.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = composer.querySelector("input")!;
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    // The key makes a retried send land once.
    await client.request(AppendToSessionDocument, { id, io: "IN", records: [{ data: { text } }], idempotencyKey: crypto.randomUUID() });
  });
}

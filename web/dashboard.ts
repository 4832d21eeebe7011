import {
  CloseSessionDocument,
  DeleteSessionDocument,
  GetSessionDocument,
  ListSessionsDocument,
  type SessionFilter,
  type SessionIo,
  type SessionStatus,
} from "../client/generated/graphql.js";
import { SessionsError, type SessionsClient } from "../client/src/sessions-client.js";
import { channelView } from "./channel-view.js";
import { askForToken, connect, el } from "./connect.js";
import { mountStyles } from "./style.js";

mountStyles();
const root = document.getElementById("root")!;
const client = connect();
if (!client) askForToken(root);
else start(client);

function start(client: SessionsClient) {
  const filters = el("form", { className: "filters", dataset: { testid: "filters" } });
  filters.innerHTML = `
    <input name="type" placeholder="type">
    <input name="tag" placeholder="tag">
    <input name="externalId" placeholder="externalId">
    <select name="status"><option value="">any status</option><option>ACTIVE</option><option>CLOSED</option><option>EXPIRED</option></select>
    <select name="period"><option value="">all time</option><option value="1h">last hour</option><option value="1d">last day</option><option value="7d">last week</option></select>
    <button>Filter</button>`;
  const summary = el("span", { className: "muted", dataset: { testid: "total" } });
  const prev = el("button", { className: "secondary", textContent: "← Newer", disabled: true });
  const next = el("button", { className: "secondary", textContent: "Older →", disabled: true });
  const table = el("table", { dataset: { testid: "sessions" } });
  const detail = el("section", { className: "detail", hidden: true, dataset: { testid: "detail" } });
  root.append(filters, table, el("div", { className: "pager" }, prev, next, summary), detail);

  let page: { after?: string; before?: string } = {};
  let cursors = { start: null as string | null, end: null as string | null };

  const filter = (): SessionFilter => {
    const f = new FormData(filters);
    const value = (k: string) => (f.get(k) as string).trim() || undefined;
    return {
      types: value("type") ? [value("type")!] : undefined,
      tags: value("tag") ? [value("tag")!] : undefined,
      externalId: value("externalId"),
      statuses: value("status") ? [value("status") as SessionStatus] : undefined,
      period: value("period"),
    };
  };

  async function load() {
    const { sessions } = await client.request(ListSessionsDocument, {
      filter: filter(),
      ...(page.before ? { last: 20, before: page.before } : { first: 20, after: page.after }),
    });
    table.replaceChildren(
      el("tr", {}, ...["Session", "externalId", "type", "tags", "status", "created"].map((h) => el("th", { textContent: h }))),
      ...sessions.edges.map(({ node }) => {
        const row = el(
          "tr",
          { className: "row", dataset: { testid: "session-row", id: node.id } },
          el("td", { textContent: node.id }),
          el("td", { textContent: node.externalId ?? "" }),
          el("td", { textContent: node.type }),
          el("td", { textContent: node.tags.join(", ") }),
          el("td", {}, el("span", { className: `status ${node.status}`, textContent: node.status })),
          el("td", { textContent: new Date(node.createdAt).toLocaleString() }),
        );
        row.addEventListener("click", () => void open(node.id));
        return row;
      }),
    );
    summary.textContent = `${sessions.totalCount} session${sessions.totalCount === 1 ? "" : "s"}`;
    cursors = { start: sessions.pageInfo.startCursor ?? null, end: sessions.pageInfo.endCursor ?? null };
    next.disabled = !sessions.pageInfo.hasNextPage;
    prev.disabled = !sessions.pageInfo.hasPreviousPage;
  }

  let following: AbortController | undefined;

  async function open(id: string) {
    following?.abort();
    following = new AbortController();
    const { session } = await client.request(GetSessionDocument, { id });
    if (!session) return;
    const closeButton = el("button", { textContent: "Close session", disabled: session.status === "CLOSED", dataset: { testid: "close" } });
    closeButton.addEventListener("click", async () => {
      await client.request(CloseSessionDocument, { id, reason: "closed from the dashboard" });
      closeButton.disabled = true;
      await load();
      await open(id);
    });
    // Deleting cannot be undone (records, waitpoints and all): the browser asks first.
    const deleteButton = el("button", { className: "danger", textContent: "Delete session", dataset: { testid: "delete" } });
    deleteButton.addEventListener("click", async () => {
      if (!confirm(`Delete ${session.externalId ?? session.id} with its records and waitpoints? This cannot be undone.`)) return;
      following?.abort();
      await client.request(DeleteSessionDocument, { id });
      detail.replaceChildren(el("p", { className: "muted", textContent: `${session.externalId ?? session.id} was deleted.`, dataset: { testid: "deleted" } }));
      await load();
    });
    const channels = (["OUT", "IN"] as const).map((io) => el("div", { className: "channel", dataset: { testid: `channel-${io}` } }));
    // headSeqNum is where a channel starts once records were trimmed (trimSessionChannel, retention).
    const extent = (c: { headSeqNum: number; tailSeqNum: number }) => (c.headSeqNum > 0 ? ` · from #${c.headSeqNum}, next #${c.tailSeqNum}` : ` · next #${c.tailSeqNum}`);
    const heading = (io: SessionIo) =>
      el("h3", { textContent: `${io === "OUT" ? "out (task → clients)" : "in (clients → task)"}${extent(io === "OUT" ? session.out : session.in)}`, dataset: { testid: `extent-${io}` } });
    detail.hidden = false;
    detail.replaceChildren(
      el("h2", { textContent: session.externalId ? `${session.externalId} · ${session.id}` : session.id }),
      el("p", {}, el("span", { className: `status ${session.status}`, textContent: session.status, dataset: { testid: "detail-status" } }), " ", closeButton, " ", deleteButton),
      el("div", { className: "channels" }, ...channels.map((c, i) => el("div", {}, heading(i === 0 ? "OUT" : "IN"), c))),
    );
    (["OUT", "IN"] as const).forEach((io: SessionIo, i) => void tail(id, io, channels[i]!, following!.signal));
  }

  async function tail(id: string, io: SessionIo, into: HTMLElement, signal: AbortSignal) {
    const show = channelView(into);
    // Trimmed records are gone: the channel is shown from its head, saying so, never as if whole.
    const onTrimmed = ({ headSeqNum }: { headSeqNum: number }) =>
      into.append(el("div", { className: "muted", textContent: `— records before #${headSeqNum} were trimmed —`, dataset: { testid: "trimmed" } }));
    try {
      for await (const record of client.follow(id, io, { fromSeqNum: 0, signal, onTrimmed })) {
        show(record);
        into.scrollTop = into.scrollHeight;
      }
    } catch (error) {
      // Deleted meanwhile (here or elsewhere): its subscriptions end with NOT_FOUND.
      if (error instanceof SessionsError && error.code === "NOT_FOUND") return void into.append(el("div", { className: "muted", textContent: "— session deleted —" }));
      throw error;
    }
    if (!signal.aborted) into.append(el("div", { className: "muted", textContent: "— session closed —" }));
  }

  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    page = {};
    void load();
  });
  next.addEventListener("click", () => {
    page = { after: cursors.end ?? undefined };
    void load();
  });
  prev.addEventListener("click", () => {
    page = { before: cursors.start ?? undefined };
    void load();
  });
  void load();
}

import { SessionsClient } from "../client/src/sessions-client.js";

/** Where the dashboard keeps its token in this browser. */
export const DASHBOARD_TOKEN = "sessions.token";

/**
 * The token comes from the page's fragment (#token=…, never sent to the server in a URL) or from
 * the one saved earlier in this browser; without one the page asks for it. Each page keeps its own
 * (`storageKey`): a /chat link carries a token scoped to its chat, possibly someone else's, and
 * opening it must not replace the dashboard's key (or another chat's token) in this browser.
 */
export function connect(storageKey = DASHBOARD_TOKEN): SessionsClient | undefined {
  const token = pageToken(storageKey);
  return token && new SessionsClient({ url: location.origin, token });
}

/** The page's token as a function (read again at every connect: another tab may have replaced it), or undefined. */
export function pageToken(storageKey = DASHBOARD_TOKEN): (() => string) | undefined {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) localStorage.setItem(storageKey, fromHash);
  const token = fromHash ?? localStorage.getItem(storageKey);
  if (!token) return undefined;
  return () => localStorage.getItem(storageKey) ?? token;
}

export function askForToken(root: HTMLElement, storageKey = DASHBOARD_TOKEN) {
  root.innerHTML = `<form class="filters" data-testid="token-form"><input name="token" placeholder="Secret key or access token" size="60" required><button>Use</button></form>
    <p class="muted">Printed by <code>npm start</code> on first run, or <code>npm run sessions -- env create &lt;slug&gt;</code>.</p>`;
  root.querySelector("form")!.addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(storageKey, new FormData(e.target as HTMLFormElement).get("token") as string);
    location.reload();
  });
}

export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {}, ...children: (Node | string)[]) => {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};

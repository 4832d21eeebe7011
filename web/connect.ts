import { SessionsClient } from "../client/src/sessions-client.js";

/**
 * The token comes from the page's fragment (#token=…, never sent to the server in a URL) or from
 * the one saved earlier in this browser; without one the page asks for it.
 */
export function connect(): SessionsClient | undefined {
  const token = pageToken();
  return token && new SessionsClient({ url: location.origin, token });
}

/** The page's token as a function (read again at every connect: another tab may have replaced it), or undefined. */
export function pageToken(): (() => string) | undefined {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) localStorage.setItem("sessions.token", fromHash);
  const token = fromHash ?? localStorage.getItem("sessions.token");
  if (!token) return undefined;
  return () => localStorage.getItem("sessions.token") ?? token;
}

export function askForToken(root: HTMLElement) {
  root.innerHTML = `<form class="filters" data-testid="token-form"><input name="token" placeholder="Secret key or access token" size="60" required><button>Use</button></form>
    <p class="muted">Printed by <code>npm start</code> on first run, or <code>npm run sessions -- env create &lt;slug&gt;</code>.</p>`;
  root.querySelector("form")!.addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("sessions.token", new FormData(e.target as HTMLFormElement).get("token") as string);
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

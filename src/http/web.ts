import { build } from "esbuild";
import type { Plugin } from "graphql-yoga";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { css } from "../../web/style.js";

const webDir = fileURLToPath(new URL("../../web/", import.meta.url));
const pages: Record<string, string> = { "/": "dashboard.html", "/chat": "chat.html" };
const scripts = ["dashboard", "chat"] as const;

/**
 * What the pages may do, and no more: their bundled scripts from here, their one style element
 * (web/style.ts, allowed by its hash), GraphQL requests to here; nothing inline, no plugins, no
 * foreign hosts, and no framing (clickjacking a close button; the token sits in the page).
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'sha256-${createHash("sha256").update(css).digest("base64")}'`,
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const pageHeaders = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": contentSecurityPolicy,
  // frame-ancestors' counterpart for browsers that predate it.
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  // The token is in the fragment, which browsers never send; nor should the path leak.
  "referrer-policy": "no-referrer",
};

/**
 * The dashboard (/) and the chat page (/chat): static HTML plus scripts bundled from web/*.ts
 * with esbuild on first request, kept in memory. They use the typed client like any other client.
 */
export function webPages(): Plugin {
  let bundles: Promise<Map<string, string>> | undefined;
  const bundle = () =>
    (bundles ??= build({
      entryPoints: scripts.map((s) => `${webDir}${s}.ts`),
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      outdir: "/assets",
      logLevel: "silent",
    }).then((r) => new Map(r.outputFiles.map((f) => [f.path, f.text]))));
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== "GET") return;
      const page = pages[url.pathname];
      if (page) {
        // A copy: the Response adds this body's content-length to the headers object it is given,
        // and a shared one would hand the next page (of another length) a wrong one.
        endResponse(new fetchAPI.Response(await readFile(webDir + page, "utf8"), { headers: { ...pageHeaders } }));
        return;
      }
      const script = /^\/assets\/(\w+)\.js$/.exec(url.pathname)?.[1];
      if (script && (scripts as readonly string[]).includes(script)) {
        const text = (await bundle()).get(`/assets/${script}.js`);
        endResponse(new fetchAPI.Response(text ?? "", {
            headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" },
          }));
      }
    },
  };
}

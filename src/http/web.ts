import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Plugin } from "graphql-yoga";

const webDir = fileURLToPath(new URL("../../web/", import.meta.url));
const pages: Record<string, string> = { "/": "dashboard.html", "/chat": "chat.html" };
const scripts = ["dashboard", "chat"] as const;

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
        endResponse(new fetchAPI.Response(await readFile(webDir + page, "utf8"), { headers: { "content-type": "text/html; charset=utf-8" } }));
        return;
      }
      const script = /^\/assets\/(\w+)\.js$/.exec(url.pathname)?.[1];
      if (script && (scripts as readonly string[]).includes(script)) {
        const text = (await bundle()).get(`/assets/${script}.js`);
        endResponse(new fetchAPI.Response(text ?? "", { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } }));
      }
    },
  };
}

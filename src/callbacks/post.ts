import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import type { ResolvedAddress } from "./url-policy.js";

export interface PostOptions {
  url: URL;
  /** The address to connect to, already checked: the name is not resolved again. */
  address: ResolvedAddress;
  headers: Record<string, string>;
  body: string;
  /** The whole attempt (connecting, TLS, the answer's head and body) ends after this. */
  timeoutMs: number;
  /** What a timeout is reported as. Default: "timed out after <timeoutMs>". */
  timeoutError?: string;
  /** Bytes of the answer read at most; the rest is dropped with the connection. */
  maxResponseBytes: number;
  /** Ends the attempt early (shutdown). */
  signal?: AbortSignal;
}

/** How an attempt ended: a status (any, the caller decides) or why there was none, e.g. "connection refused". */
export type PostOutcome = { status: number } | { error: string };

const ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "connect timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "name resolution failed for now",
};

/** A short, secret-free reason for `lastError`. */
export function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && ERRORS[code]) return ERRORS[code];
  if (code && (code.startsWith("ERR_TLS") || code.startsWith("CERT_") || code.includes("CERT") || code.startsWith("ERR_SSL"))) return `TLS: ${code}`;
  if (code) return code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * One POST to a callback, over a fresh connection to exactly `address` (no pooling: each attempt
 * connects to the address checked for it), with the URL's host in the Host header and, for https,
 * in SNI and the certificate check. Redirects are not followed (a 3xx is an answer like any other).
 * Never rejects.
 */
export function post(options: PostOptions): Promise<PostOutcome> {
  const { url, address } = options;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  // Node calls this instead of resolving the name: the checked address, whatever the name says now.
  const lookup: LookupFunction = (_name, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [{ address: address.address, family: address.family }]);
    else callback(null, address.address, address.family);
  };
  const transport = url.protocol === "https:" ? https : http;
  if (options.signal?.aborted) return Promise.resolve({ error: "interrupted: the server shut down" });
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const request = transport.request(url, {
      method: "POST",
      agent: false,
      lookup,
      ...(url.protocol === "https:" && !isIP(hostname) && { servername: hostname }),
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(options.body)),
        "user-agent": "sessions-callbacks/1",
        ...options.headers,
      },
    });
    const timer = setTimeout(() => {
      finish({ error: options.timeoutError ?? `timed out after ${formatMs(options.timeoutMs)}` });
      request.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      finish({ error: "interrupted: the server shut down" });
      request.destroy();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error) => finish({ error: describeError(error) }));
    request.on("response", (response) => {
      let read = 0;
      const status = response.statusCode ?? 0;
      response.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read < options.maxResponseBytes) return;
        finish({ status });
        response.destroy();
      });
      response.on("end", () => finish({ status }));
      response.on("error", () => finish({ status }));
      response.on("close", () => finish({ status }));
    });
    request.end(options.body);
  });
}

export const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { blockedAddress } from "./addresses.js";

/** An address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has; rejects with the resolver's error (`code` ENOTFOUND, ...). */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address, in its order. */
export const systemResolve: Resolve = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

/** A callback URL the policy refuses; `message` says why, for the client or for `lastError`. */
export class CallbackUrlRefused extends Error {
  override name = "CallbackUrlRefused";
}

export interface UrlPolicyOptions {
  /**
   * Hosts (names or addresses, lowercase) that may be reached over http and at private, loopback
   * and link-local addresses: CALLBACK_ALLOWED_HOSTS. Default: none.
   */
  allowedHosts?: readonly string[];
  /** How host names are resolved. Default: `systemResolve`. Tests give names of their own. */
  resolve?: Resolve;
  /** Longest URL accepted, in characters. Default: 2048 (`limits.callbackUrlLength`). */
  maxLength?: number;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase();

/**
 * Where callbacks may go (SSRF). By default only https URLs whose host resolves to public
 * addresses only; hosts in `allowedHosts` may also use http and private addresses. Checked when a
 * waitpoint is created and again at every delivery on the addresses the name resolves to then,
 * and the delivery connects to exactly the address that was checked (so a name that changes its
 * answer between the check and the connection, DNS rebinding, gains nothing).
 */
export class UrlPolicy {
  private allowed: Set<string>;
  private maxLength: number;
  /** Replaceable, so a test can make a name resolve where it needs without a DNS server. */
  resolve: Resolve;

  constructor(options: UrlPolicyOptions = {}) {
    this.allowed = new Set((options.allowedHosts ?? []).map((h) => h.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase()));
    this.resolve = options.resolve ?? systemResolve;
    this.maxLength = options.maxLength ?? 2048;
  }

  /**
   * The URL's form alone, no I/O: a parsable http(s) URL without credentials, https unless the host
   * is allowed, and, when the host is an address, a public one unless allowed. Throws CallbackUrlRefused.
   */
  parse(text: string): URL {
    if (text.length > this.maxLength) throw new CallbackUrlRefused(`callbackUrl is at most ${this.maxLength} characters`);
    if (!URL.canParse(text)) throw new CallbackUrlRefused("callbackUrl is not a URL");
    const url = new URL(text);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new CallbackUrlRefused("callbackUrl must be an https URL");
    // The URL is shown back (Waitpoint.callback.url) and kept in the database: no secrets in it.
    if (url.username || url.password) throw new CallbackUrlRefused("callbackUrl must not carry a user name or password");
    const host = hostOf(url);
    const allowed = this.allowed.has(host);
    if (url.protocol === "http:" && !allowed) throw new CallbackUrlRefused(`callbackUrl must be https (http only for hosts in CALLBACK_ALLOWED_HOSTS; ${host} is not)`);
    if (isIP(host) && !allowed) this.refuseAddress(host, host);
    return url;
  }

  /**
   * Checks a URL as `parse` does, then the addresses its host resolves to now. A name that does
   * not exist is refused; a resolver that cannot answer right now is not (delivery checks again).
   */
  async check(text: string): Promise<URL> {
    const url = this.parse(text);
    const host = hostOf(url);
    if (isIP(host) || this.allowed.has(host)) return url;
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolve(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTFOUND" || code === "ENODATA") throw new CallbackUrlRefused(`callbackUrl's host ${host} does not resolve`);
      return url;
    }
    for (const { address } of addresses) this.refuseAddress(host, address);
    return url;
  }

  /**
   * The address a delivery to `url` connects to: resolved now and checked (every address the name
   * has must be allowed, so an answer that mixes in a private one is refused whole). Throws
   * CallbackUrlRefused, or the resolver's error.
   */
  async addressFor(url: URL): Promise<ResolvedAddress> {
    this.parse(url.href);
    const host = hostOf(url);
    const kind = isIP(host);
    if (kind) return { address: host, family: kind === 6 ? 6 : 4 };
    const addresses = await this.resolve(host);
    if (addresses.length === 0) throw new CallbackUrlRefused(`${host} has no address`);
    if (!this.allowed.has(host)) for (const { address } of addresses) this.refuseAddress(host, address);
    return addresses[0]!;
  }

  private refuseAddress(host: string, address: string) {
    const why = blockedAddress(address);
    if (!why) return;
    const at = host === address ? `${host} is` : `${host} resolves to ${address},`;
    throw new CallbackUrlRefused(`callbackUrl's host ${at} ${why}; only hosts in CALLBACK_ALLOWED_HOSTS may be`);
  }
}

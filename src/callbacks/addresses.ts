import { isIP } from "node:net";

/**
 * Which IP addresses a callback may not reach unless its host is allowed (CALLBACK_ALLOWED_HOSTS):
 * everything that is not a public unicast address. Pure: no I/O.
 */

interface Range {
  bytes: number[];
  bits: number;
  why: string;
}

const v4 = (cidr: string, why: string): Range => {
  const [address, bits] = cidr.split("/") as [string, string];
  return { bytes: address.split(".").map(Number), bits: Number(bits), why };
};
const v6 = (cidr: string, why: string): Range => {
  const [address, bits] = cidr.split("/") as [string, string];
  return { bytes: [...parseIPv6(address)!], bits: Number(bits), why };
};

const IPV4_BLOCKED: Range[] = [
  v4("0.0.0.0/8", "a \"this network\" address"),
  v4("10.0.0.0/8", "a private address"),
  v4("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
  v4("127.0.0.0/8", "a loopback address"),
  // 169.254.169.254 is the cloud metadata service of AWS, GCP, Azure and others.
  v4("169.254.0.0/16", "a link-local (or cloud metadata) address"),
  v4("172.16.0.0/12", "a private address"),
  v4("192.0.0.0/24", "an IETF protocol address"),
  v4("192.168.0.0/16", "a private address"),
  v4("198.18.0.0/15", "a benchmarking address"),
  v4("224.0.0.0/4", "a multicast address"),
  v4("240.0.0.0/4", "a reserved address"),
];

const IPV6_BLOCKED: Range[] = [
  v6("::/128", "the unspecified address"),
  v6("::1/128", "a loopback address"),
  // fd00:ec2::254 (the AWS metadata service over IPv6) is in here.
  v6("fc00::/7", "a private (unique local) address"),
  v6("fe80::/10", "a link-local address"),
  v6("fec0::/10", "a site-local address"),
  v6("ff00::/8", "a multicast address"),
  // Translated to IPv4 by a gateway inside the network (RFC 8215), to whatever address it is told.
  v6("64:ff9b:1::/48", "a local-use NAT64 address"),
  // Teredo (RFC 4380) tunnels to an IPv4 address hidden in the address (inverted): never a callback's.
  v6("2001::/32", "a Teredo address"),
  v6("100::/64", "a discard-only address"),
];

/**
 * IPv6 forms that carry an IPv4 address, which is then what decides: mapped, compatible, NAT64,
 * IPv4-translated (SIIT: ::ffff:0:a.b.c.d) in their last 4 bytes; 6to4 (2002:AABB:CCDD::/48,
 * tunnelled to AA.BB.CC.DD by a host with a 6to4 interface) in bytes 2 to 5.
 */
const EMBEDS_IPV4: { range: Range; at: number }[] = [
  { range: v6("::ffff:0:0/96", ""), at: 12 },
  { range: v6("::/96", ""), at: 12 },
  { range: v6("64:ff9b::/96", ""), at: 12 },
  { range: v6("::ffff:0:0:0/96", ""), at: 12 },
  { range: v6("2002::/16", ""), at: 2 },
];

function inRange(bytes: number[], range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The 16 bytes of an IPv6 address (with or without brackets or an embedded IPv4 tail), or undefined. */
export function parseIPv6(text: string): number[] | undefined {
  const address = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (isIP(address) !== 6) return undefined;
  let groups = address;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split(".").map(Number) as [number, number, number, number];
    tail.push(a, b, c, d);
    groups = `${address.slice(0, dotted.index)}:0:0`;
  }
  const [head, rest] = groups.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = rest ? rest.split(":") : [];
  const zeros = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  const all = [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * Why the address may not be reached by a callback to a host that is not allowed ("a loopback
 * address", ...), or undefined for a public address. Anything that is not an IP address is refused.
 */
export function blockedAddress(address: string): string | undefined {
  const plain = address.replace(/^\[(.*)\]$/, "$1");
  const kind = isIP(plain);
  if (kind === 4) {
    const bytes = plain.split(".").map(Number);
    return IPV4_BLOCKED.find((r) => inRange(bytes, r))?.why;
  }
  const bytes = kind === 6 ? parseIPv6(plain) : undefined;
  if (!bytes) return "not an IP address";
  const embeds = EMBEDS_IPV4.find(({ range }) => inRange(bytes, range));
  if (embeds) {
    const embedded = bytes.slice(embeds.at, embeds.at + 4);
    // ::, ::1 sit inside ::/96 but are IPv6's own unspecified and loopback addresses.
    const own = IPV6_BLOCKED.find((r) => r.bits === 128 && inRange(bytes, r));
    return own?.why ?? IPV4_BLOCKED.find((r) => inRange(embedded, r))?.why;
  }
  return IPV6_BLOCKED.find((r) => inRange(bytes, r))?.why;
}

const units = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const pattern = /^(\d{1,9})(ms|s|m|h|d|w)$/;

/** "30s", "15m", "6h", "7d", "2w" to milliseconds; undefined for anything else or zero. */
export function parseDuration(text: string): number | undefined {
  const m = pattern.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * units[m[2] as keyof typeof units];
  return ms > 0 ? ms : undefined;
}

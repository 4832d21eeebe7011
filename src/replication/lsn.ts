/** "16/B374D848" → 0x16B374D848: LSNs order as unsigned 64-bit integers, which makes them row versions. */
export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  if (hi === undefined || lo === undefined || !/^[0-9a-f]+$/i.test(hi) || !/^[0-9a-f]+$/i.test(lo)) throw new Error(`bad LSN ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export const compareLsn = (a: string, b: string) => {
  const x = lsnToBigInt(a);
  const y = lsnToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

export const bigIntToLsn = (n: bigint) => `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;

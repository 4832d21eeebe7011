import { limits } from "./limits.js";

/** A UTF-16 surrogate without its partner: not Unicode text, and PostgreSQL refuses it. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why a string argument cannot be stored, or undefined when it can. PostgreSQL's text and jsonb
 * cannot hold the NUL character, and neither takes lone surrogates; refused at the edge, they are
 * the client's mistake rather than a driver error deep inside a write.
 */
export function textProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "must not contain the NUL character (\\u0000)";
  if (loneSurrogate.test(text)) return "must be valid Unicode (no lone surrogates)";
  return undefined;
}

/**
 * Why a JSON value cannot be taken, or undefined: nested deeper than `limits.jsonDepth`, or a
 * string or key with a lone surrogate (and, with `nul: true`, the NUL character). Walked with
 * an explicit stack, so a value nested a million deep is refused rather than overflowing ours.
 */
export function jsonProblem(value: unknown, options: { nul?: boolean; maxDepth?: number } = {}): string | undefined {
  const maxDepth = options.maxDepth ?? limits.jsonDepth;
  const check = (s: string) => {
    const problem = textProblem(s);
    if (problem && (options.nul || !problem.includes("NUL"))) return problem;
    return undefined;
  };
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") {
      const problem = check(v);
      if (problem) return `a string ${problem}`;
    } else if (typeof v === "object" && v !== null) {
      if (depth >= maxDepth) return `JSON is nested at most ${maxDepth} levels deep`;
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1]);
      else
        for (const [key, item] of Object.entries(v)) {
          const problem = check(key);
          if (problem) return `a key ${problem}`;
          stack.push([item, depth + 1]);
        }
    }
  }
  return undefined;
}

// Prints the "Limits" table of docs/limits.md from src/limits.ts; tests/limits.test.ts checks they agree.
// Regenerate with: npx tsx scripts/limits-table.ts --write
import { readFileSync, writeFileSync } from "node:fs";
import { limitsMarkdown } from "../src/limits.js";

export const BEGIN = "<!-- limits:begin (generated from src/limits.ts by scripts/limits-table.ts) -->";
export const END = "<!-- limits:end -->";

if (process.argv.includes("--write")) {
  const readme = readFileSync("docs/limits.md", "utf8");
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error("docs/limits.md has no limits markers");
  writeFileSync("docs/limits.md", `${readme.slice(0, start + BEGIN.length)}\n${limitsMarkdown()}\n${readme.slice(end)}`);
} else {
  console.log(limitsMarkdown());
}

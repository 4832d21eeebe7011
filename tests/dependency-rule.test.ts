import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url).pathname;
const run = promisify(execFile);

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/** Runs dependency-cruiser with the repository's rules over `dir` (relative to `cwd`). */
async function violations(cwd: string, dir: string): Promise<Violation[]> {
  const cli = path.join(root, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");
  const config = path.join(root, ".dependency-cruiser.cjs");
  // Exit code 1 means "violations found"; the JSON on stdout says which.
  const { stdout } = await run("node", [cli, dir, "--config", config, "--output-type", "json"], { cwd, maxBuffer: 64 << 20 }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
  );
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe("the dependency rule (.dependency-cruiser.cjs)", () => {
  it("holds for src/: domains are entered through their index.ts, the kernel imports no domain", async () => {
    const found = await violations(root, "src");
    expect(found.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 120_000);

  it("catches a deep import across domains and a kernel file that imports a domain", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deps-"));
    const file = (name: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    };
    file("tsconfig.json", JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } }));
    file("src/live/watchers.ts", "export const watchers = 1;\n");
    file("src/live/index.ts", 'export { watchers } from "./watchers.js";\n');
    file("src/auth/audit.ts", 'import { watchers } from "../live/watchers.js";\nexport const audit = watchers;\n');
    file("src/auth/index.ts", 'import { watchers } from "../live/index.js";\nexport const ok = watchers;\n');
    file("src/limits.ts", 'import { ok } from "./auth/index.js";\nexport const limits = ok;\n');
    const found = await violations(dir, "src");
    expect(found.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort()).toEqual([
      "domain-through-index: src/auth/audit.ts → src/live/watchers.ts",
      "kernel-stays-small: src/limits.ts → src/auth/index.ts",
    ]);
  }, 120_000);
});

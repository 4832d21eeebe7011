import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { printSchemaFile } from "../src/graphql/schema/print.js";

const root = new URL("../", import.meta.url);
const checker = new URL("../shared/contract/check-contract.mjs", root);

describe("schema contract", () => {
  it("has a committed schema.graphql that matches the server (run `npm run schema:print`)", () => {
    expect(readFileSync(new URL("schema.graphql", root), "utf8")).toBe(printSchemaFile());
  });

  // ../shared sits beside this repository in the team's workspace; a clone of this repository alone
  // has no such directory. There the shared check cannot run, and the test says so (instead of
  // failing the whole suite); the committed schema.graphql is still checked by the test above.
  // Where the directory exists, a missing checker inside it is still a failure.
  const shared = new URL("../shared/contract/", root);
  if (existsSync(shared)) {
    it("meets ../shared/contract/schema.graphql", () => {
      expect(existsSync(checker), "the contract checker is missing from ../shared/contract").toBe(true);
      const out = execFileSync("node", [checker.pathname, "schema.graphql"], { cwd: root.pathname, encoding: "utf8" });
      expect(out).toContain("contract: ok");
    });
  } else {
    it("cannot check ../shared/contract/schema.graphql: this clone has no ../shared (shared check skipped)", () => {
      console.warn(`schema contract: ${shared.pathname} is absent, so the shared-contract check was skipped; only the committed schema.graphql was checked`);
      expect(existsSync(checker)).toBe(false);
    });
  }
});

describe("typed client", () => {
  it("is generated from the current schema and operations (run `npm run codegen`)", () => {
    const generated = ["gql.ts", "graphql.ts", "index.ts"].map((f) => readFileSync(new URL(`client/generated/${f}`, root), "utf8"));
    const out = execFileSync("npx", ["graphql-codegen", "--config", "codegen.ts", "--check"], { cwd: root.pathname, encoding: "utf8", stdio: "pipe" });
    expect(out).not.toMatch(/outdated|changed/i);
    expect(generated.join("")).toContain("SessionRecordsDocument");
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { limitTable, limits, limitsMarkdown, resolveLimits } from "../src/limits.js";
import { BEGIN, END } from "../scripts/limits-table.js";

describe("the limits table", () => {
  it("is what docs/limits.md shows (regenerate: npx tsx scripts/limits-table.ts --write)", () => {
    const readme = readFileSync(new URL("../docs/limits.md", import.meta.url), "utf8");
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + BEGIN.length, end).trim()).toBe(limitsMarkdown());
  });

  it("gives every configurable limit a variable that config.ts parses, defaulting to the table", () => {
    expect(resolveLimits(loadConfig({}))).toEqual(limits);
    const configured = resolveLimits(loadConfig({ RATE_LIMIT_TOKEN_MUTATIONS: "10/30s", RATE_LIMIT_IP_SUBSCRIBES: "off", WAITPOINTS_PENDING_PER_CHANNEL: "7" }));
    expect(configured.tokenMutations).toEqual({ burst: 10, perMs: 30_000 });
    expect(configured.ipSubscribes).toBeNull();
    expect(configured.pendingWaitpointsPerChannel).toBe(7);
    expect(() => loadConfig({ RATE_LIMIT_TOKEN_MUTATIONS: "lots" })).toThrow(/RATE_LIMIT_TOKEN_MUTATIONS/);
    const variables = Object.values(limitTable).flatMap((spec) => ("env" in spec ? [spec.env] : []));
    expect(new Set(variables).size).toBe(variables.length);
  });
});

import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:s2-real`: the S2 conformance suite against s2-lite and S2 cloud
 * (tests/s2-real/), kept out of `npm test`'s tests/**\/*.test.ts since it needs servers this
 * repository cannot start. The include replaces the base's (mergeConfig would add to it, running
 * the whole suite too). Longer timeouts: basins are made over the network.
 */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["tests/s2-real/**/*.conformance.ts"], testTimeout: 120_000, hookTimeout: 120_000, maxWorkers: 1 },
});

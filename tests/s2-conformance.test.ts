import { S2 } from "@s2-dev/streamstore";
import { describe } from "vitest";
import { s2Conformance } from "./helpers/s2-conformance.js";
import { startS2Double } from "./helpers/s2-double.js";

/**
 * The S2 conformance suite (tests/helpers/s2-conformance.ts) against the test double, every
 * request and answer held to S2's API. The same suite runs against s2-lite and S2 cloud with
 * `npm run test:s2-real` (README, "S2 in production").
 */
describe("S2 conformance: the test double", () =>
  s2Conformance({ tokens: true }, async () => {
    const double = await startS2Double("s2-root-token");
    const doubles = [double];
    return {
      env: double.env,
      sdk: new S2({ accessToken: "s2-root-token", endpoints: { account: double.endpoint, basin: double.endpoint } }),
      basin: "test-basin",
      async autoCreatingBasin() {
        const auto = await startS2Double("s2-root-token", { createStreamOnAppend: true, defaultStreamConfig: { retention_policy: { age: 3600 } } });
        doubles.push(auto);
        const sdk = new S2({ accessToken: "s2-root-token", endpoints: { account: auto.endpoint, basin: auto.endpoint } });
        // Closed with the others: its violations fail the suite.
        return { env: auto.env, sdk, basin: "test-basin", close: async () => undefined };
      },
      async close() {
        for (const d of doubles) await d.close();
      },
    };
  }));

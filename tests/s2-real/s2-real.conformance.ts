import { S2 } from "@s2-dev/streamstore";
import { randomBytes } from "node:crypto";
import { describe } from "vitest";
import { loadConfig } from "../../src/config.js";
import { s2Conformance, type S2Target } from "../helpers/s2-conformance.js";

/**
 * The S2 conformance suite against real S2 servers, run by `npm run test:s2-real` (never by
 * `npm test`: it needs a server this repository cannot start). Each target is registered only when
 * its variable is set; scripts/test-s2-real.sh says which ran and why the others did not.
 *
 * - S2_LITE_URL: an s2-lite on this machine (loopback only), e.g. http://127.0.0.1:8080.
 * - S2_CLOUD_TOKEN: an S2 cloud account token able to create and delete basins; S2_CLOUD_ACCOUNT_ENDPOINT
 *   and S2_CLOUD_BASIN_ENDPOINT override S2 cloud's endpoints.
 *
 * Each run makes its own basins (names `sessions-conf-…`) and deletes them afterwards.
 */

/** A fresh basin name: 8 to 48 lowercase letters, digits and hyphens. */
const basinName = (what: string) => `sessions-conf-${what}-${randomBytes(4).toString("hex")}`;

/** A target on S2 reached with `env` (the service's S2 settings, less the basin) and `token`. */
function target(env: Record<string, string>, token: string): () => Promise<S2Target> {
  return async () => {
    // The SDK's endpoints exactly as the service derives them from its settings.
    const endpoints = loadConfig({ ...env, S2_ACCESS_TOKEN: token, S2_BASIN: "probe-basin" }).s2Endpoints!;
    const sdk = new S2({ accessToken: token, endpoints });
    const made: string[] = [];
    const basin = async (what: string, config?: Parameters<typeof sdk.basins.create>[0]["config"]) => {
      const name = basinName(what);
      await sdk.basins.create({ basin: name, ...(config && { config }) });
      made.push(name);
      return name;
    };
    const main = await basin("main");
    return {
      env: { ...env, S2_ACCESS_TOKEN: token, S2_BASIN: main },
      sdk,
      basin: main,
      async autoCreatingBasin() {
        const name = await basin("auto", { createStreamOnAppend: true, createStreamOnRead: true, defaultStreamConfig: { retentionPolicy: { ageSecs: 3600 } } });
        return { env: { ...env, S2_ACCESS_TOKEN: token, S2_BASIN: name }, sdk, basin: name, close: async () => undefined };
      },
      async close() {
        for (const name of made) await sdk.basins.delete({ basin: name }).catch(() => undefined);
      },
    };
  };
}

const lite = process.env.S2_LITE_URL;
if (lite) {
  const host = new URL(lite).hostname;
  if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) throw new Error(`S2_LITE_URL must be on this machine (loopback), not ${host}`);
  // s2-lite has no access tokens: any token is taken, and none is issued.
  console.log("s2-real: s2-lite: the token-scope case does not run: s2-lite issues no access tokens");
  describe("S2 conformance: s2-lite", () => s2Conformance({ tokens: false }, target({ S2_ENDPOINT: lite }, "s2-lite")));
}

const cloud = process.env.S2_CLOUD_TOKEN;
if (cloud) {
  const env: Record<string, string> = {};
  if (process.env.S2_CLOUD_ACCOUNT_ENDPOINT) env.S2_ACCOUNT_ENDPOINT = process.env.S2_CLOUD_ACCOUNT_ENDPOINT;
  if (process.env.S2_CLOUD_BASIN_ENDPOINT) env.S2_BASIN_ENDPOINT = process.env.S2_CLOUD_BASIN_ENDPOINT;
  describe("S2 conformance: S2 cloud", () => s2Conformance({ tokens: true }, target(env, cloud)));
}

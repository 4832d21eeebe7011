import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPEND, createAs, duringSubscribe, errorCodes, mintToken, outcome, REVOKE, unique } from "./helpers/attack.js";
import { subscribe, transports } from "./helpers/clients.js";
import { rotateSecretKey } from "../src/auth/secret-keys.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * Second hostile pass (issues #14, #15, #16, #12): every public access token is held by an
 * attacker in a browser. Aimed at what the first pass's fixes added: the input scope, waitpoint
 * keys per owner and hidden callbacks, the live guard's "re-check only when something may have
 * been missed", and signals per topic.
 */

const RECORDS = `subscription($id: ID!, $from: SeqNum) { sessionRecords(id: $id, io: OUT, fromSeqNum: $from) { seqNum data } }`;

let server: TestServer;
let gql: Gql;

beforeAll(async () => {
  server = await startServer("pglite");
  ({ gql } = await server.newEnvironment());
}, 180_000);
afterAll(() => server?.close());

describe("a subscription opened as its token is revoked (#15)", () => {
  for (const transport of transports) {
    it(`ends UNAUTHENTICATED and receives nothing more (${transport})`, async () => {
      const name = unique("revoked-under");
      const id = await createAs(gql, { externalId: name });
      const token = await mintToken(gql, [`read:sessions:${name}`]);
      // The token was authenticated as the request began; the revocation lands before the guard exists.
      const hook = duringSubscribe(server, id, async () => {
        expect((await gql(REVOKE)).errors).toBeUndefined();
      });
      const sub = subscribe(server, transport, token, RECORDS, { id: name, from: 0 });
      try {
        await hook.ran;
        expect((await gql(APPEND, { id, io: "OUT", records: [{ data: "after the revocation" }] })).errors).toBeUndefined();
        expect(await outcome(sub)).toBe("ended");
        expect(sub.items).toEqual([]);
        expect(errorCodes(sub)).toEqual(["UNAUTHENTICATED"]);
      } finally {
        hook.restore();
        sub.stop();
      }
    });
  }
});

describe("a subscription opened as its secret key is rotated out (#15)", () => {
  it("ends UNAUTHENTICATED and receives nothing more", async () => {
    const env = await server.newEnvironment();
    const id = await createAs(env.gql, { externalId: unique("rotated-under") });
    // As the CLI does: the new key in the database, then the signal that keys changed.
    let newKey = "";
    const hook = duringSubscribe(server, id, async () => {
      ({ secretKey: newKey } = await rotateSecretKey(server.services.prisma, env.id));
      server.services.signals.publish({ kind: "credentials", environmentId: env.id });
    });
    const sub = subscribe(server, "sse-distinct", env.secretKey, RECORDS, { id, from: 0 });
    try {
      await hook.ran;
      // The old key no longer works for requests; the subscription must end the same way.
      expect(codes(await env.gql(APPEND, { id, io: "OUT", records: [{ data: "x" }] }))).toEqual(["UNAUTHENTICATED"]);
      expect((await gqlClient(server.url, newKey)(APPEND, { id, io: "OUT", records: [{ data: "after the rotation" }] })).errors).toBeUndefined();
      expect(await outcome(sub)).toBe("ended");
      expect(errorCodes(sub)).toEqual(["UNAUTHENTICATED"]);
    } finally {
      hook.restore();
      sub.stop();
    }
  });
});

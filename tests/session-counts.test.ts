import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/db/migrate.js";
import { toListQuery } from "../src/sessions/list-query.js";
import { startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const CREATE = `mutation($input: CreateSessionInput!) { createSession(input: $input) { session { id } } }`;
const TOTAL = `{ sessions(first: 1) { totalCount } }`;

/**
 * The unfiltered totalCount on PostgreSQL and PGlite comes from `session_counts`, kept by triggers on
 * `sessions` (migration 20261230000000_session_counts): it must equal a count of the rows whatever
 * inserted or deleted them, one at a time, at once on many connections, or in bulk.
 */
describe.each(["postgres", "pglite"] as const)("session counts on %s", (backend) => {
  let server: TestServer;
  let envs: { id: string; gql: Gql }[];
  const sql = (query: string, ...values: unknown[]) => server.services.prisma.$executeRawUnsafe(query, ...values);
  const rows = async (environmentId: string) =>
    Number((await server.services.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM sessions WHERE environment_id = $1`, environmentId))[0]!.n);
  const total = async ({ gql }: { gql: Gql }) => {
    const r = await gql(TOTAL);
    expect(r.errors).toBeUndefined();
    return (r.data!.sessions as { totalCount: number }).totalCount;
  };
  /** Every environment's totalCount (through GraphQL) and repository count against its rows. */
  const expectCounted = async () => {
    for (const env of envs) {
      const n = await rows(env.id);
      expect(await total(env)).toBe(n);
      expect(await server.services.sessionsRepository.count(env.id, toListQuery({}))).toBe(n);
    }
  };

  beforeAll(async () => {
    server = await startServer(backend);
    envs = await Promise.all([server.newEnvironment(), server.newEnvironment()]);
  });
  afterAll(() => server?.close());

  it("counts sessions created one by one and many at once, in each environment apart", async () => {
    expect(await total(envs[0]!)).toBe(0);
    for (let i = 0; i < 3; i++) expect((await envs[0]!.gql(CREATE, { input: { type: "chat" } })).errors).toBeUndefined();
    // At once: on PostgreSQL these run on several pool connections, so several slots.
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => envs[i % 2]!.gql(CREATE, { input: { type: "chat", externalId: `c-${i}` } })));
    expect(made.every((r) => r.errors === undefined)).toBe(true);
    expect(await total(envs[0]!)).toBe(23);
    expect(await total(envs[1]!)).toBe(20);
    await expectCounted();
  });

  it("counts deletes by deleteSession, by the statements that delete many, and inserts in bulk", async () => {
    const r = await envs[1]!.gql(`mutation { deleteSession(id: "c-1") { deleted } }`);
    expect(r.errors).toBeUndefined();
    expect(await total(envs[1]!)).toBe(19);
    await sql(
      `INSERT INTO sessions (id, environment_id, type, tags, created_at, updated_at)
       SELECT 'session_' || lpad(n::text, 24, '0'), $1, 'bulk', '{}', now(), now() FROM generate_series(1, 500) AS n`,
      envs[0]!.id,
    );
    expect(await total(envs[0]!)).toBe(523);
    // One statement deleting from both environments, as a retention sweep's may.
    await sql(`DELETE FROM sessions WHERE (environment_id = $1 AND type = 'bulk' AND id < 'session_' || lpad('101', 24, '0')) OR (environment_id = $2 AND external_id IN ('c-3', 'c-5'))`, envs[0]!.id, envs[1]!.id);
    expect(await total(envs[0]!)).toBe(423);
    expect(await total(envs[1]!)).toBe(17);
    await expectCounted();
  });

  it("leaves nothing counted by a statement that failed or a transaction rolled back", async () => {
    const before = await total(envs[0]!);
    // The second row collides with the first's id: the statement fails, and its insert is not counted.
    await expect(
      sql(`INSERT INTO sessions (id, environment_id, type, tags) VALUES ('session_dupdupdupdupdupdupdup', $1, 'x', '{}'), ('session_dupdupdupdupdupdupdup', $1, 'x', '{}')`, envs[0]!.id),
    ).rejects.toThrow();
    await expect(
      server.services.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`DELETE FROM sessions WHERE environment_id = $1`, envs[0]!.id);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect(await total(envs[0]!)).toBe(before);
    await expectCounted();
  });

  it("refuses to move a session to another environment, whose count would then be wrong", async () => {
    const [a, b] = [await total(envs[0]!), await total(envs[1]!)];
    await expect(sql(`UPDATE sessions SET environment_id = $2 WHERE environment_id = $1 AND type = 'bulk'`, envs[0]!.id, envs[1]!.id)).rejects.toThrow(/environment_id never changes/);
    // Other updates are not held up.
    await sql(`UPDATE sessions SET tags = '{moved}' WHERE environment_id = $1 AND type = 'bulk'`, envs[0]!.id);
    expect([await total(envs[0]!), await total(envs[1]!)]).toEqual([a, b]);
    await expectCounted();
  });

  it("counts the writes of a connection whose search_path does not name the service's schema", async () => {
    const before = await total(envs[1]!);
    const schema = (await server.services.prisma.$queryRawUnsafe<{ s: string }[]>(`SELECT current_schema() AS s`))[0]!.s;
    await server.services.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL search_path TO pg_catalog`);
      await tx.$executeRawUnsafe(`INSERT INTO "${schema}".sessions (id, environment_id, type, tags) VALUES ('session_elsewhereelsewhere0', $1, 'x', '{}')`, envs[1]!.id);
    });
    expect(await total(envs[1]!)).toBe(before + 1);
    await expectCounted();
  });

  it("a filtered totalCount still counts the rows that match", async () => {
    const r = await envs[0]!.gql(`{ sessions(first: 1, filter: { types: ["bulk"] }) { totalCount } }`);
    expect(r.data).toEqual({ sessions: { totalCount: 400 } });
  });

  it("the migration counts the sessions that were there before it", async () => {
    // Back to before the migration, with sessions written meanwhile, then the migration again.
    await sql(`DROP TABLE session_counts`);
    await sql(`DROP TRIGGER session_counts_insert ON sessions`);
    await sql(`DROP TRIGGER session_counts_delete ON sessions`);
    await sql(`DROP TRIGGER session_counts_truncate ON sessions`);
    await sql(`DROP TRIGGER sessions_environment_fixed ON sessions`);
    await sql(`DROP FUNCTION session_counts_add, session_counts_remove, session_counts_clear, sessions_environment_fixed`);
    await sql(`DELETE FROM "_sessions_migrations" WHERE name = '20261230000000_session_counts'`);
    await sql(`DELETE FROM sessions WHERE environment_id = $1 AND type = 'bulk' AND id < 'session_' || lpad('201', 24, '0')`, envs[0]!.id);
    expect(await migrate(server.services.db)).toEqual(["20261230000000_session_counts"]);
    expect(await total(envs[0]!)).toBe(323);
    await expectCounted();
  });
});

import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, chownSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "./backends.js";

const pgBin = () => {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
};

/**
 * Asynchronous on purpose: the service under test runs in this process, and a blocked event loop
 * could not answer the server (a shutting-down walsender waits for its consumer's confirmation).
 */
async function asPostgres(command: string) {
  const root = process.getuid?.() === 0;
  await promisify(execFile)(root ? "su" : "bash", root ? ["postgres", "-s", "/bin/bash", "-c", command] : ["-c", command]);
}

/**
 * A PostgreSQL cluster of the test's own (wal_level=logical), for tests that restart the server
 * and so must not share the suite's cluster with other test files.
 */
export async function startOwnPostgres() {
  const parent = tempDir("pg-");
  chmodSync(parent, 0o755);
  const dir = join(parent, "data");
  mkdirSync(dir);
  chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  const port = await freePort();
  const bin = pgBin();
  await asPostgres(`'${bin}/initdb' -D '${dir}' -U postgres --auth=trust >/dev/null`);
  const opts = `-p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10 -c fsync=off`;
  const ctl = (action: string) => asPostgres(`'${bin}/pg_ctl' -D '${dir}' -l '${dir}/server.log' -w -m fast -o "${opts}" ${action}`);
  await ctl("start");
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    restart: () => ctl("restart"),
    log: () => execFileSync("tail", ["-n", "30", `${dir}/server.log`]).toString(),
    stop: () => ctl("stop"),
  };
}

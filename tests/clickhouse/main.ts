// `npm run clickhouse:local`: a ClickHouse HTTP endpoint on chdb, for local runs, tests and benchmarks.
// CLICKHOUSE_DATA_DIR (default ./data/clickhouse), CLICKHOUSE_PORT (default: a free port).
import { startClickHouseFront } from "./http-front.js";

const front = await startClickHouseFront({
  dataDir: process.env.CLICKHOUSE_DATA_DIR ?? "./data/clickhouse",
  port: Number(process.env.CLICKHOUSE_PORT ?? 0),
});
console.log(`listening on ${front.url}`);
const stop = () => void front.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

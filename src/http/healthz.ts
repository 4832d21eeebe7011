import type { Plugin } from "graphql-yoga";
import type { Services } from "../services.js";

/** GET /healthz: 200 once every configured backend answers, 503 while one does not. */
export function healthz(services: Services): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== "/healthz") return;
      try {
        await services.prisma.$queryRaw`SELECT 1`;
        if (services.redis) await services.redis.ping();
        if (services.clickhouse && !(await services.clickhouse.ping()).success) throw new Error("ClickHouse did not answer");
        endResponse(
          fetchAPI.Response.json({
            status: "ok",
            database: services.db.kind,
            store: services.store.backend,
            lists: services.clickhouse ? "clickhouse" : "postgres",
            ...(services.replication && { replication: services.replication.metrics.snapshot() }),
          }),
        );
      } catch (error) {
        services.logger.warn({ err: error }, "health check failed");
        endResponse(fetchAPI.Response.json({ status: "unavailable" }, { status: 503 }));
      }
    },
  };
}

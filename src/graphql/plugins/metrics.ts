import type { Plugin } from "graphql-yoga";
import type { Metrics } from "../../http/index.js";

/**
 * GET /metrics in Prometheus' text format, and the counts that only the GraphQL layer sees. Errors
 * are counted where they are shaped, for every transport (src/errors/shaping.ts).
 */
export function metricsPlugin(metrics: Metrics): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== "/metrics") return;
      endResponse(new fetchAPI.Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } }));
    },
    onExecute() {
      metrics.operations.inc({ type: "query_or_mutation" });
    },
    onSubscribe() {
      metrics.operations.inc({ type: "subscription" });
      metrics.subscriptionsOpen.inc();
      let open = true;
      const end = () => {
        if (open) metrics.subscriptionsOpen.dec();
        open = false;
      };
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) return end();
          return { onEnd: end };
        },
        onSubscribeError: end,
      };
    },
  };
}

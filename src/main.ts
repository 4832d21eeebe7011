import pino from "pino";
import { ensureDefaultEnvironment } from "./auth/index.js";
import { ConfigError, loadConfig } from "./config.js";
import { createApp } from "./server.js";
import { createServices } from "./services.js";

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination(2));
  const services = await createServices(config, logger);
  const { generatedKey } = await ensureDefaultEnvironment(services.prisma, {
    secretKey: config.SESSIONS_SECRET_KEY,
    dataDir: config.DATA_DIR,
  });
  if (generatedKey) console.log(`secret key of the default environment (shown once, kept in ${config.DATA_DIR}): ${generatedKey}`);

  const app = createApp(services);
  const url = await app.listen(config.PORT, config.HOST);
  console.log(`listening on ${url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    try {
      await app.close();
      await services.close();
    } catch (error) {
      logger.error({ err: error }, "error during shutdown");
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  console.error(`start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

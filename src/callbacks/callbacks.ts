import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Sql } from "../db/index.js";
import { badInput } from "../errors/index.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Limits } from "../limits.js";
import type { Signals } from "../live/index.js";
import { CallbackDeliverer } from "./deliverer.js";
import { type Sealer, WebhookSecrets } from "./signing.js";
import { CallbackUrlRefused, UrlPolicy } from "./url-policy.js";

export interface CallbacksDeps {
  prisma: PrismaClient;
  sql: Sql;
  signals: Signals;
  /** The master key: seals the signing secrets at rest. */
  sealer: Sealer;
  logger: Pick<Logger, "warn" | "error">;
}

/**
 * Waitpoint callbacks, put together from configuration: where they may go (`policy`), the secrets
 * that sign them (`secrets`) and the worker that delivers them (`deliverer`).
 */
export class Callbacks {
  readonly policy: UrlPolicy;
  readonly secrets: WebhookSecrets;
  readonly deliverer: CallbackDeliverer;

  constructor(config: Pick<Config, "CALLBACK_ALLOWED_HOSTS">, limits: Limits, deps: CallbacksDeps) {
    this.policy = new UrlPolicy({ allowedHosts: config.CALLBACK_ALLOWED_HOSTS, maxLength: limits.callbackUrlLength });
    this.secrets = new WebhookSecrets(deps.prisma, deps.sealer, { graceMs: limits.webhookSecretGraceMs });
    this.deliverer = new CallbackDeliverer(
      { sql: deps.sql, secrets: this.secrets, policy: this.policy, signals: deps.signals, logger: deps.logger },
      {
        timeoutMs: limits.callbackTimeoutMs,
        retry: { firstRetryMs: limits.callbackFirstRetryMs, maxRetryMs: limits.callbackMaxRetryMs, giveUpAfterMs: limits.callbackGiveUpMs },
        concurrency: limits.callbacksInFlight,
        maxResponseBytes: limits.callbackResponseBytes,
      },
    );
  }

  /** A waitpoint's callbackUrl as it will be kept, or BAD_USER_INPUT saying why it may not be used. */
  async checkUrl(text: string): Promise<string> {
    try {
      return (await this.policy.check(text)).href;
    } catch (error) {
      if (error instanceof CallbackUrlRefused) throw badInput(error.message);
      throw error;
    }
  }

  start() {
    this.deliverer.start();
  }

  stop() {
    return this.deliverer.stop();
  }
}

import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Database } from "../db/index.js";
import type { Signals } from "../live/index.js";
import { CredentialListener } from "./credential-signals.js";
import { loadMasterKey } from "./master-key.js";
import { Authenticator } from "./principal.js";
import { revokeTokens } from "./revocation.js";
import { SigningKeys } from "./signing-keys.js";

export interface AuthServices {
  authenticator: Authenticator;
  signingKeys: SigningKeys;
  /**
   * Revokes every public access token of the environment issued until now, here and on every
   * node (the `revoke` signal); resolves to the instant tokens issued before are refused.
   */
  revokeTokens(environmentId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The server's side of keys: the master key (SESSIONS_MASTER_KEY or DATA_DIR/master-key), the
 * signing keys it seals, and the Authenticator, told about revocations and key changes through
 * `signals` and, on PostgreSQL without Redis, through LISTEN (the CLI's NOTIFY).
 */
export async function openAuthServices(config: Config, db: Database, signals: Signals, logger: Logger): Promise<AuthServices> {
  const { masterKey, generatedIn } = loadMasterKey(config);
  if (generatedIn) {
    logger.info(
      { file: generatedIn, masterKey: masterKey.fingerprint },
      "generated the master key that seals signing keys; set SESSIONS_MASTER_KEY (the same on every node) to keep it apart from the data",
    );
  }
  const signingKeys = await SigningKeys.open(db.prisma, masterKey, logger, {
    onNewKey: (environmentId) => signals.publish({ kind: "credentials", environmentId }),
  });
  const authenticator = new Authenticator(db.prisma, signingKeys, signals);
  const listener =
    config.DATABASE_URL && !config.REDIS_URL
      ? await CredentialListener.start(config.DATABASE_URL, {
          // LocalSignals without Redis: this reaches this process's handlers only, so nothing loops.
          onSignal: (signal) => signals.publish(signal),
          // Revocations sent meanwhile were missed: the cache is dropped and live subscriptions check again.
          onReconnect: () => signals.publish({ kind: "missed" }),
          onError: (error) => logger.error({ err: error }, "credential signals"),
        })
      : undefined;
  return {
    authenticator,
    signingKeys,
    async revokeTokens(environmentId) {
      const before = await revokeTokens(db.prisma, environmentId);
      // This process's cache and live subscriptions at once; the other processes when the signal reaches them.
      signals.publish({ kind: "revoke", environmentId, before });
      return before;
    },
    async close() {
      authenticator.close();
      await listener?.close();
    },
  };
}

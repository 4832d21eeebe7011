import type { Logger } from "pino";

/** What the audit trail records. Add names here as new events are audited. */
export type AuditEvent =
  | "token.minted"
  | "tokens.revoked"
  | "secret-key.rotated"
  | "signing-key.rotated"
  | "session.renamed"
  | "session.closed"
  | "session.deleted"
  | "channel.trimmed"
  | (string & {});

/** A field's value: plain data only, so nothing reaches the log by accident through an object. */
type AuditValue = string | number | boolean | null | undefined | Date | readonly string[];

export interface AuditFields {
  /** The environment the event happened in. */
  environmentId: string;
  /** The request that caused it (x-request-id), or the CLI run's id. */
  requestId: string;
  [field: string]: AuditValue;
}

/**
 * Field names that would carry a credential. Never pass a token, key or hash; this is a last
 * guard against a slip, refusing loudly in the caller's tests rather than leaking in production logs.
 */
const forbiddenField = /^(token|secret|secretKey|key|keyHash|password|authorization|signingKey|sealedKey)$/i;

/**
 * One structured log line per security-relevant event (pino, level info): `{"audit": event,
 * environmentId, requestId, ...fields}`, message `audit <event>`. Filter the log on `audit` to read the
 * trail. Ids (jti, kid, session id) name what was touched; credentials are never logged.
 */
export function audit(logger: Pick<Logger, "info">, event: AuditEvent, fields: AuditFields): void {
  for (const name of Object.keys(fields)) {
    if (forbiddenField.test(name)) throw new Error(`audit: the field "${name}" would log a credential`);
  }
  logger.info({ audit: event, ...fields }, `audit ${event}`);
}

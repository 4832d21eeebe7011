import type { Authentication } from "../auth/index.js";
import type { Services } from "../services.js";
import type { Session } from "../sessions/index.js";

export interface Context {
  auth: Authentication;
  services: Services;
  requestId: string;
  /** Per-request cache of session lookups, shared by auth checks and resolvers. */
  loadSession(ref: string): Promise<Session | null>;
  /** Authenticates the request's credential afresh: live subscriptions ask again when keys change. */
  reauthenticate(): Promise<Authentication>;
  /** services.live.mark() before anything of the request was checked (see LiveCaller.since). */
  liveSince: number;
}

/** The context of one request or subscription, authenticated from its Authorization value. */
export async function createContext(services: Services, authorization: string | undefined, requestId: string): Promise<Context> {
  const reauthenticate = () => services.authenticator.authenticate(authorization);
  const liveSince = services.live.mark();
  const auth = await reauthenticate();
  const cache = new Map<string, Promise<Session | null>>();
  return {
    auth,
    services,
    requestId,
    reauthenticate,
    liveSince,
    loadSession(ref) {
      if (!auth.principal) return Promise.resolve(null);
      const environmentId = auth.principal.environmentId;
      let hit = cache.get(ref);
      if (!hit) {
        hit = services.sessions.find(environmentId, ref);
        cache.set(ref, hit);
      }
      return hit;
    },
  };
}

import type { Authentication } from "./auth/principal.js";
import type { Services } from "./services.js";
import type { Session } from "./sessions/session-store.js";

export interface Context {
  auth: Authentication;
  services: Services;
  requestId: string;
  /** Per-request cache of session lookups, shared by auth checks and resolvers. */
  loadSession(ref: string): Promise<Session | null>;
}

export function createContext(services: Services, auth: Authentication, requestId: string): Context {
  const cache = new Map<string, Promise<Session | null>>();
  return {
    auth,
    services,
    requestId,
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

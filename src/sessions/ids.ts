import { randomToken } from "../auth/index.js";

export const SESSION_ID_PREFIX = "session_";
export const WAITPOINT_ID_PREFIX = "waitpoint_";
const friendly = (prefix: string) => new RegExp(`^${prefix}[a-z0-9]{20,}$`);
const sessionIdPattern = friendly(SESSION_ID_PREFIX);
const waitpointIdPattern = friendly(WAITPOINT_ID_PREFIX);

export const newSessionId = () => `${SESSION_ID_PREFIX}${randomToken(24)}`;
export const newWaitpointId = () => `${WAITPOINT_ID_PREFIX}${randomToken(24)}`;
export const isSessionId = (s: string) => sessionIdPattern.test(s);
export const isWaitpointId = (s: string) => waitpointIdPattern.test(s);

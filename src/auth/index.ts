/**
 * Authentication and authorization: secret keys, signing keys and public access tokens, the
 * principal of a request, scope rules, revocation, and the guard that re-checks live subscriptions.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { signAccessToken } from "./access-tokens.js";
export { audit } from "./audit.js";
export { type AuthServices, openAuthServices } from "./auth-services.js";
export { announceCredentialChange } from "./credential-signals.js";
export { createEnvironment, DEFAULT_ENVIRONMENT, ensureDefaultEnvironment, EnvironmentExistsError, findEnvironmentBySlug, listEnvironments, UnknownEnvironmentError } from "./environments.js";
export { admitted, LiveAccess } from "./live-access.js";
export { loadMasterKey } from "./master-key.js";
export { type Authentication, Authenticator, type Principal } from "./principal.js";
export { type Action, can, canAll, canNamed, scopeSchema } from "./scopes.js";
export { randomToken, rotateSecretKey } from "./secret-keys.js";
export { SigningKeys } from "./signing-keys.js";

/**
 * Authentication and authorization: secret keys, signing keys and public access tokens, the
 * principal of a request, scope rules, revocation, and the guard that re-checks live subscriptions.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { signAccessToken } from "./access-tokens.js";
export { audit } from "./audit.js";
export { openAuthServices, type AuthServices } from "./auth-services.js";
export { announceCredentialChange } from "./credential-signals.js";
export { DEFAULT_ENVIRONMENT, EnvironmentExistsError, UnknownEnvironmentError, createEnvironment, ensureDefaultEnvironment, findEnvironmentBySlug, listEnvironments } from "./environments.js";
export { LiveAccess, admitted } from "./live-access.js";
export { loadMasterKey } from "./master-key.js";
export { Authenticator, type Authentication, type Principal } from "./principal.js";
export { appendAction, can, canAll, canNamed, scopeSchema, type Action } from "./scopes.js";
export { randomToken, rotateSecretKey } from "./secret-keys.js";
export { SigningKeys } from "./signing-keys.js";

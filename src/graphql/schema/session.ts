import { admitted } from "../../auth/index.js";
import type { Session } from "../../sessions/index.js";
import { closedReasonSchema, createSessionInputSchema, sessionStatus, updateSessionInputSchema } from "../../sessions/index.js";
import * as resolvers from "../resolvers/sessions.js";
import { builder } from "./builder.js";
import { SessionChannelRef, SessionIOEnum } from "./channel.js";

export const SessionStatusEnum = builder.enumType("SessionStatus", {
  values: {
    ACTIVE: { description: "Not closed, and expiresAt is null or in the future." },
    CLOSED: { description: "closedAt is set." },
    EXPIRED: { description: "Not closed, and expiresAt is in the past." },
  } as const,
});

export const SessionRef = builder.objectRef<Session>("Session");

builder.node(SessionRef, {
  id: { resolve: (s) => s.id },
  isTypeOf: (value) => typeof value === "object" && value !== null && "type" in value && "environmentId" in value,
  // node(id) finds only what the caller may read: unreadable looks exactly like unknown.
  loadOne: (id, ctx) => resolvers.readableSession(ctx, id),
  // Whoever reaches a session through any field must be allowed to read it.
  authScopes: (session) => ({ session: { action: "read", session } }),
  fields: (t) => ({
    externalId: t.exposeString("externalId", { nullable: true }),
    type: t.exposeString("type"),
    taskIdentifier: t.exposeString("taskIdentifier", { nullable: true }),
    tags: t.exposeStringList("tags"),
    metadata: t.field({ type: "JSON", nullable: true, resolve: (s) => s.metadata }),
    status: t.field({ type: SessionStatusEnum, resolve: (s) => sessionStatus(s) }),
    closedAt: t.expose("closedAt", { type: "DateTime", nullable: true }),
    closedReason: t.exposeString("closedReason", { nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    out: t.field({
      type: SessionChannelRef,
      description: "The channel this session's task writes to.",
      resolve: (session) => ({ session, io: "OUT" as const }),
    }),
    in: t.field({
      type: SessionChannelRef,
      description: "The channel clients write to.",
      resolve: (session) => ({ session, io: "IN" as const }),
    }),
  }),
});

const SessionFilter = builder.inputType("SessionFilter", {
  description: "Every field narrows the result; list fields match any of their values.",
  fields: (t) => ({
    types: t.stringList(),
    tags: t.stringList({ description: "Sessions carrying at least one of these tags." }),
    taskIdentifiers: t.stringList(),
    externalId: t.string(),
    statuses: t.field({ type: [SessionStatusEnum] }),
    period: t.string({ description: 'A window ending now, e.g. "30m", "6h", "7d". Ignored when from or to is given.' }),
    from: t.field({ type: "DateTime" }),
    to: t.field({ type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  session: t.field({
    type: SessionRef,
    nullable: true,
    description: "By friendly id, or else by externalId. Null when not found.",
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ session: { action: "read", session: args.id } }),
    // A session this token may not read is, to it, a session that does not exist.
    unauthorizedResolver: (_root, _args, ctx, _info, error) => {
      if (!ctx.auth.principal) throw error;
      return null;
    },
    resolve: (_root, args, ctx) => ctx.loadSession(args.id),
  }),
  sessions: t.connection(
    {
      type: SessionRef,
      description: "Newest first (createdAt, then id, descending). first/last: 1 to 100, default 25.",
      args: { filter: t.arg({ type: SessionFilter }) },
      authScopes: { readAll: true },
      resolve: (_root, args, ctx, info) => resolvers.listSessions(ctx, args, info),
    },
    {
      name: "SessionConnection",
      fields: (c) => ({
        totalCount: c.int({
          description: "All sessions matching the filter, ignoring pagination.",
          resolve: (connection) => connection.totalCount(),
        }),
      }),
    },
    { name: "SessionEdge" },
  ),
  sessionTags: t.stringList({
    description: "Distinct tags of the environment's sessions, optionally those containing `search`.",
    args: { search: t.arg.string(), first: t.arg.int({ defaultValue: 50 }) },
    authScopes: { readAll: true },
    resolve: (_root, args, ctx) => resolvers.sessionTags(ctx, args),
  }),
}));

const CreateSessionInput = builder.inputType("CreateSessionInput", {
  fields: (t) => ({
    type: t.string({ required: true }),
    externalId: t.string({
      description: 'Unique per environment; creating again with the same externalId returns the existing session. Must not start with "session_".',
    }),
    taskIdentifier: t.string(),
    tags: t.stringList(),
    metadata: t.field({ type: "JSON" }),
    expiresAt: t.field({ type: "DateTime", description: "Absolute expiry." }),
    ttl: t.string({ description: 'Relative expiry, e.g. "1h", "7d"; ignored when expiresAt is given.' }),
    recordRetention: t.string({ description: 'Records older than this, e.g. "30d", are trimmed from both channels; default: kept.' }),
  }),
}).validate(createSessionInputSchema);

const CreateSessionPayload = builder.simpleObject("CreateSessionPayload", {
  fields: (t) => ({
    session: t.field({ type: SessionRef }),
    isCached: t.boolean({ description: "True when an existing session was returned for the same externalId." }),
  }),
});

const UpdateSessionInput = builder.inputType("UpdateSessionInput", {
  fields: (t) => ({
    tags: t.stringList(),
    metadata: t.field({ type: "JSON" }),
    externalId: t.string(),
  }),
}).validate(updateSessionInputSchema);

const DeleteSessionPayload = builder.simpleObject("DeleteSessionPayload", {
  fields: (t) => ({ id: t.id(), deleted: t.boolean() }),
});

builder.mutationFields((t) => ({
  createSession: t.field({
    type: CreateSessionPayload,
    args: { input: t.arg({ type: CreateSessionInput, required: true }) },
    // A token scoped to one externalId may create that session: how a chat UI starts a conversation.
    authScopes: (_root, args) => (args.input.externalId ? { createNamed: args.input.externalId } : { writeAll: true }),
    resolve: (_root, args, ctx) => resolvers.createSession(ctx, args.input),
  }),
  updateSession: t.field({
    type: SessionRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateSessionInput, required: true }) },
    // Checked in full before the resolver writes anything: admin over the session, and over its new name.
    authScopes: (_root, args) =>
      args.input.externalId === undefined
        ? { session: { action: "admin", session: args.id } }
        : { $all: { session: { action: "admin", session: args.id }, rename: { session: args.id, externalId: args.input.externalId } } },
    resolve: (_root, args, ctx) => resolvers.updateSession(ctx, args.id, args.input),
  }),
  closeSession: t.field({
    type: SessionRef,
    description: "Idempotent; the first close's closedAt and reason are kept.",
    args: { id: t.arg.id({ required: true }), reason: t.arg.string({ validate: closedReasonSchema }) },
    authScopes: (_root, args) => ({ session: { action: "admin", session: args.id } }),
    resolve: (_root, args, ctx) => resolvers.closeSession(ctx, args.id, args.reason),
  }),
  deleteSession: t.field({
    type: DeleteSessionPayload,
    description:
      "Needs admin. Removes the session, its records and waitpoints, everywhere (lists included,\nonce replicated). Idempotent: deleted is false when nothing matched.",
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ session: { action: "admin", session: args.id } }),
    resolve: (_root, args, ctx) => resolvers.deleteSession(ctx, args.id),
  }),
}));

export { SessionIOEnum };

builder.subscriptionFields((t) => ({
  sessionChanged: t.field({
    type: SessionRef,
    description: "The session now, then again after each change (update, close).",
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ session: { action: "read", session: args.id } }),
    subscribe: (_root, args, ctx) => resolvers.watchSession(ctx, args.id),
    resolve: admitted,
  }),
}));

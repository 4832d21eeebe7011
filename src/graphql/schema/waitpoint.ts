import { admitted } from "../../auth/index.js";
import { waitpointStatus, type Waitpoint } from "../../waitpoints/index.js";
import * as resolvers from "../resolvers/waitpoints.js";
import { builder } from "./builder.js";
import { SessionIOEnum, SessionRecordRef } from "./channel.js";
import { SessionRef } from "./session.js";

const WaitpointStatusEnum = builder.enumType("WaitpointStatus", { values: ["PENDING", "COMPLETED", "TIMED_OUT"] as const });

export const WaitpointRef = builder.objectRef<Waitpoint>("Waitpoint");

const WaitpointCallbackStatusEnum = builder.enumType("WaitpointCallbackStatus", {
  values: {
    PENDING: { description: "Not yet due (the waitpoint is pending) or being delivered." },
    DELIVERED: { description: "A 2xx answer was received." },
    FAILED: { description: "Every attempt failed; no more will be made." },
  } as const,
});

type WaitpointCallback = NonNullable<Waitpoint["callback"]>;

const WaitpointCallbackRef = builder.objectRef<WaitpointCallback>("WaitpointCallback").implement({
  description:
    'A signed POST (Standard Webhooks headers webhook-id, webhook-timestamp, webhook-signature,\nsigned with the environment\'s webhookSigningSecret) sent once the waitpoint completes or times\nout, retried with backoff until a 2xx answer; its body is {"type": "waitpoint.completed" or\n"waitpoint.timed_out", "data": the waitpoint as JSON}.',
  fields: (t) => ({
    url: t.exposeString("url"),
    status: t.field({ type: WaitpointCallbackStatusEnum, resolve: resolvers.callbackStatus }),
    attempts: t.exposeInt("attempts"),
    lastAttemptAt: t.expose("lastAttemptAt", { type: "DateTime", nullable: true }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    lastError: t.exposeString("lastError", { nullable: true, description: 'The last failure, e.g. "HTTP 503" or "connection refused".' }),
  }),
});

builder.node(WaitpointRef, {
  id: { resolve: (w) => w.id },
  isTypeOf: (value) => typeof value === "object" && value !== null && "afterSeqNum" in value,
  loadOne: (id, ctx) => resolvers.findWaitpoint(ctx, id),
  // A waitpoint is as visible as its session.
  authScopes: (w) => ({ session: { action: "read", session: w.sessionId } }),
  fields: (t) => ({
    session: t.field({
      type: SessionRef,
      resolve: async (w, _args, ctx) => (await ctx.loadSession(w.sessionId))!,
    }),
    io: t.field({ type: SessionIOEnum, resolve: resolvers.waitpointIo }),
    afterSeqNum: t.field({
      type: "SeqNum",
      description: "The waitpoint completes with the first record whose seqNum is >= this.",
      resolve: (w) => Number(w.afterSeqNum),
    }),
    status: t.field({ type: WaitpointStatusEnum, resolve: (w) => waitpointStatus(w) }),
    record: t.field({ type: SessionRecordRef, nullable: true, description: "The record that completed it.", resolve: resolvers.waitpointRecord }),
    tags: t.exposeStringList("tags"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
    timeoutAt: t.expose("timeoutAt", { type: "DateTime", nullable: true }),
    callback: t.field({
      type: WaitpointCallbackRef,
      nullable: true,
      description: "The HTTP callback that announces completion or timeout, when one was asked for. Secret keys only: null for public access tokens.",
      // The agent's: its URL may carry a secret of the receiver's, and pages have no callbacks.
      authScopes: { secretKey: true },
      unauthorizedResolver: () => null,
      resolve: (w) => w.callback ?? null,
    }),
  }),
});

const CreateWaitpointInput = builder.inputType("CreateWaitpointInput", {
  fields: (t) => ({
    session: t.id({ required: true }),
    io: t.field({ type: SessionIOEnum, required: true, defaultValue: "IN" }),
    afterSeqNum: t.field({ type: "SeqNum", description: "Defaults to the channel's current tail: the waitpoint waits for the next record." }),
    timeout: t.string({ description: 'e.g. "30s", "1h"; default 1h, at most 7d.' }),
    idempotencyKey: t.string({ description: "Same key on the same session and channel returns the same waitpoint." }),
    tags: t.stringList(),
    callbackUrl: t.string({
      description:
        "https URL (http allowed for loopback hosts) that receives a signed POST on completion or timeout. Needs a secret key: public access tokens get FORBIDDEN.",
    }),
  }),
}).validate(resolvers.createWaitpointSchema);

const CreateWaitpointPayload = builder.simpleObject("CreateWaitpointPayload", {
  fields: (t) => ({ waitpoint: t.field({ type: WaitpointRef }), isCached: t.boolean() }),
});

builder.queryField("waitpoint", (t) =>
  t.field({
    type: WaitpointRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    resolve: (_root, args, ctx) => resolvers.findWaitpoint(ctx, args.id),
  }),
);

builder.queryField("webhookSigningSecret", (t) =>
  t.string({
    description: 'Needs a secret key. The "whsec_..." secret that signs this environment\'s waitpoint callbacks.',
    authScopes: { secretKey: true },
    resolve: (_root, _args, ctx) => resolvers.webhookSigningSecret(ctx),
  }),
);

builder.mutationField("createSessionWaitpoint", (t) =>
  t.field({
    type: CreateWaitpointPayload,
    args: { input: t.arg({ type: CreateWaitpointInput, required: true }) },
    // A callback makes this server send a POST signed with the environment's webhook secret to a URL
    // of the caller's choosing: only agents (secret keys) may ask for one. A token held in a browser
    // could otherwise collect genuinely signed events to replay at the environment's real receiver.
    authScopes: (_root, args) =>
      args.input.callbackUrl == null
        ? { session: { action: "write", session: args.input.session } }
        : { $all: { session: { action: "write", session: args.input.session }, secretKey: true } },
    resolve: (_root, args, ctx) => resolvers.createSessionWaitpoint(ctx, args.input),
  }),
);

builder.subscriptionField("waitpointChanged", (t) =>
  t.field({
    type: WaitpointRef,
    description:
      "The waitpoint now, then once more when it completes or times out; then completes.\nWith a callback, also after each attempt to deliver it, completing once it is DELIVERED or FAILED.",
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    subscribe: (_root, args, ctx) => resolvers.watchWaitpoint(ctx, args.id),
    resolve: admitted,
  }),
);

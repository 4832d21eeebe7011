import { notImplemented } from "../errors.js";
import { builder } from "./builder.js";
import { SessionIOEnum, SessionRecordRef } from "./channel.js";
import { SessionRef } from "./session.js";

// Declared whole so the contract holds; waitpoints are built in their own issue.
const WaitpointStatusEnum = builder.enumType("WaitpointStatus", { values: ["PENDING", "COMPLETED", "TIMED_OUT"] as const });

const WaitpointRef = builder.objectRef<{ id: string }>("Waitpoint");

builder.node(WaitpointRef, {
  id: { resolve: (w) => w.id },
  isTypeOf: () => false,
  loadOne: () => {
    throw notImplemented("waitpoints");
  },
  fields: (t) => {
    const pending = () => {
      throw notImplemented("waitpoints");
    };
    return {
      session: t.field({ type: SessionRef, resolve: pending }),
      io: t.field({ type: SessionIOEnum, resolve: pending }),
      afterSeqNum: t.field({ type: "SeqNum", resolve: pending, description: "The waitpoint completes with the first record whose seqNum is >= this." }),
      status: t.field({ type: WaitpointStatusEnum, resolve: pending }),
      record: t.field({ type: SessionRecordRef, nullable: true, resolve: pending, description: "The record that completed it." }),
      tags: t.stringList({ resolve: pending }),
      createdAt: t.field({ type: "DateTime", resolve: pending }),
      completedAt: t.field({ type: "DateTime", nullable: true, resolve: pending }),
      timeoutAt: t.field({ type: "DateTime", nullable: true, resolve: pending }),
    };
  },
});

const CreateWaitpointInput = builder.inputType("CreateWaitpointInput", {
  fields: (t) => ({
    session: t.id({ required: true }),
    io: t.field({ type: SessionIOEnum, required: true, defaultValue: "IN" }),
    afterSeqNum: t.field({ type: "SeqNum", description: "Defaults to the channel's current tail: the waitpoint waits for the next record." }),
    timeout: t.string({ description: 'e.g. "30s", "1h"; default 1h, at most 7d.' }),
    idempotencyKey: t.string({ description: "Same key on the same session and channel returns the same waitpoint." }),
    tags: t.stringList(),
  }),
});

const CreateWaitpointPayload = builder.simpleObject("CreateWaitpointPayload", {
  fields: (t) => ({ waitpoint: t.field({ type: WaitpointRef }), isCached: t.boolean() }),
});

builder.queryField("waitpoint", (t) =>
  t.field({
    type: WaitpointRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    resolve: () => {
      throw notImplemented("waitpoints");
    },
  }),
);

builder.mutationField("createSessionWaitpoint", (t) =>
  t.field({
    type: CreateWaitpointPayload,
    args: { input: t.arg({ type: CreateWaitpointInput, required: true }) },
    authScopes: (_root, args) => ({ session: { action: "write", session: args.input.session } }),
    resolve: () => {
      throw notImplemented("waitpoints");
    },
  }),
);

builder.subscriptionField("waitpointChanged", (t) =>
  t.field({
    type: WaitpointRef,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    subscribe: () => {
      throw notImplemented("waitpoints");
    },
    resolve: (w: { id: string }) => w,
  }),
);

import { admitted, appendAction } from "../../auth/index.js";
import type { SessionIO, StoredRecord } from "../../channels/index.js";
import type { Session } from "../../sessions/index.js";
import { sharedResults } from "../plugins/shared-results.js";
import * as resolvers from "../resolvers/channels.js";
import { builder } from "./builder.js";

export const SessionIOEnum = builder.enumType("SessionIO", {
  description: "The two channels of a session: OUT is written by the task and read by clients; IN the reverse.",
  values: ["OUT", "IN"] as const,
});

export const SessionChannelRef = builder.objectRef<{ session: Session; io: SessionIO }>("SessionChannel");
export const SessionRecordRef = builder.objectRef<StoredRecord>("SessionRecord");

SessionRecordRef.implement({
  fields: (t) => ({
    seqNum: t.expose("seqNum", { type: "SeqNum" }),
    timestamp: t.expose("timestamp", { type: "DateTime", description: "When the store accepted the record." }),
    data: t.field({ type: "JSON", resolve: (r) => r.data }),
  }),
});

SessionChannelRef.implement({
  fields: (t) => ({
    io: t.field({ type: SessionIOEnum, resolve: (c) => c.io }),
    headSeqNum: t.field({
      type: "SeqNum",
      description: "The first seqNum still stored; equals tailSeqNum when nothing is stored (empty or trimmed).",
      resolve: (c, _args, ctx) => resolvers.headSeqNum(ctx, { sessionId: c.session.id, io: c.io }),
    }),
    tailSeqNum: t.field({
      type: "SeqNum",
      description: "The seqNum the next appended record will get (0 for an empty channel).",
      resolve: (c, _args, ctx) => ctx.services.store.tail({ sessionId: c.session.id, io: c.io }),
    }),
    records: t.field({
      type: [SessionRecordRef],
      description: "Stored records in order, starting at fromSeqNum. limit: 1 to 1000.\nFails with RECORDS_TRIMMED when fromSeqNum is below headSeqNum.",
      args: {
        fromSeqNum: t.arg({ type: "SeqNum", defaultValue: 0 }),
        limit: t.arg.int({ defaultValue: 100 }),
      },
      resolve: (c, args, ctx) => resolvers.readRecords(ctx, { sessionId: c.session.id, io: c.io }, args),
    }),
  }),
});

const AppendRecordInput = builder.inputType("AppendRecordInput", {
  fields: (t) => ({ data: t.field({ type: "JSON", required: true }) }),
});

const AppendResult = builder.simpleObject("AppendResult", {
  fields: (t) => ({
    firstSeqNum: t.field({ type: "SeqNum" }),
    lastSeqNum: t.field({ type: "SeqNum" }),
    tailSeqNum: t.field({ type: "SeqNum", description: "The channel's tail after the append." }),
    deduplicated: t.boolean({
      description: "True when idempotencyKey matched an earlier append and nothing new was written.",
    }),
  }),
});

const SessionChannelAccess = builder.simpleObject("SessionChannelAccess", {
  description: "Where and how a client may write to or read from a channel directly.",
  fields: (t) => ({
    io: t.field({ type: SessionIOEnum }),
    backend: t.string({ description: 'Which stream store holds the channel, e.g. "s2" or "local".' }),
    stream: t.string({ description: "The stream's name in that store: sessions/{sessionId}/{out|in}." }),
    basin: t.string({ nullable: true, description: "S2 basin, when backend is s2." }),
    endpoint: t.string({ nullable: true, description: "Base address of the store's API, when clients may talk to it directly." }),
    accessToken: t.string({ nullable: true, description: "A token limited to this one stream, when the backend supports direct access." }),
    expiresAt: t.field({ type: "DateTime", nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  appendToSession: t.field({
    type: AppendResult,
    description:
      "Appends records atomically, in order. Fails with SESSION_CLOSED once the session is closed,\nwith SEQ_NUM_MISMATCH when matchSeqNum is not the channel's tail.",
    args: {
      id: t.arg.id({ required: true }),
      io: t.arg({ type: SessionIOEnum, required: true }),
      records: t.arg({ type: [AppendRecordInput], required: true }),
      matchSeqNum: t.arg({ type: "SeqNum" }),
      idempotencyKey: t.arg.string(),
    },
    authScopes: (_root, args) => ({ session: { action: appendAction(args.io), session: args.id } }),
    resolve: (_root, args, ctx) => resolvers.appendToSession(ctx, args),
  }),
  initializeSessionChannel: t.field({
    type: SessionChannelAccess,
    args: { id: t.arg.id({ required: true }), io: t.arg({ type: SessionIOEnum, required: true }) },
    authScopes: (_root, args) => ({ session: { action: "read", session: args.id } }),
    resolve: (_root, args, ctx) => resolvers.initializeSessionChannel(ctx, args.id, args.io),
  }),
  trimSessionChannel: t.field({
    type: SessionChannelRef,
    description:
      "Needs write. Removes the records below beforeSeqNum (at most up to the tail); headSeqNum\nmoves there. Open subscriptions are unaffected; new reads below it fail with RECORDS_TRIMMED.",
    args: {
      id: t.arg.id({ required: true }),
      io: t.arg({ type: SessionIOEnum, required: true }),
      beforeSeqNum: t.arg({ type: "SeqNum", required: true }),
    },
    authScopes: (_root, args) => ({ session: { action: "write", session: args.id } }),
    resolve: (_root, args, ctx) => resolvers.trimSessionChannel(ctx, args),
  }),
}));

builder.subscriptionFields((t) => ({
  sessionRecords: t.field({
    type: SessionRecordRef,
    description:
      "Replays the channel from fromSeqNum (default: its tail at subscribe time), then follows it live,\nin order, without gaps or duplicates. Completes once the session is closed and every record\nwritten before the close was delivered. Fails with RECORDS_TRIMMED when fromSeqNum is below\nheadSeqNum: never a silent skip.",
    args: {
      id: t.arg.id({ required: true }),
      io: t.arg({ type: SessionIOEnum, required: true }),
      fromSeqNum: t.arg({ type: "SeqNum" }),
    },
    authScopes: (_root, args) => ({ session: { action: "read", session: args.id } }),
    subscribe: (_root, args, ctx) => resolvers.subscribeRecords(ctx, args),
    resolve: admitted,
    // Every subscriber of a channel sees the same records: one execution per record serves them all.
    extensions: sharedResults,
  }),
}));

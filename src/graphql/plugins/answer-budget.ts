import {
  getNamedType,
  getOperationAST,
  isInterfaceType,
  isObjectType,
  Kind,
  valueFromAST,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { StreamStore } from "../../channels/index.js";
import { ApiError, badInput } from "../../errors/index.js";
import { RECORD_ENVELOPE_BYTES, recordBytes } from "../../live/index.js";
import type { Refusals } from "../../refusals.js";
import type { Context } from "../context.js";

export interface AnswerLimitsOptions {
  /** Bytes of records one query or mutation may read (limits.answerBytes, 32 MiB). */
  answerBytes: number;
  /** Weighted cost one operation may have (limits.listCost, 8,000; see listCost). */
  maxCost: number;
  /** The largest record a channel holds (limits.recordBytes, 1 MiB): bounds a small read's byte cap. */
  recordBytesMax: number;
  refusals: Pick<Refusals, "record">;
}

/** Arguments that say how many entries a list field returns. */
const SIZE_ARGS = ["limit", "first", "last"];

/**
 * The cost of an operation when list fields count as many times as they may return: each field
 * costs 1, and a field with `limit`, `first` or `last` (given, or its default) costs that many
 * times its selection. graphql-armor's cost limit counts a list once, so `records(limit: 1000)`
 * under five aliases looked as cheap as one record.
 */
export function listCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined) {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = schema.getRootType(operation.operation);
  const visit = (set: SelectionSetNode, type: GraphQLNamedType | undefined | null, depth: number): number => {
    // Validation refuses fragment cycles; the depth guard only keeps a bad document from looping.
    if (depth > 50) return Infinity;
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        cost += visit(selection.selectionSet, on, depth + 1);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) cost += visit(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), depth + 1);
      } else {
        const field: GraphQLField<unknown, unknown> | undefined =
          type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[selection.name.value] : undefined;
        let times = 1;
        for (const name of SIZE_ARGS) {
          const def = field?.args.find((a) => a.name === name);
          if (!def) continue;
          const node = selection.arguments?.find((a) => a.name.value === name);
          const value = node ? valueFromAST(node.value, def.type, variables ?? {}) : def.defaultValue;
          if (typeof value === "number" && value > times) times = value;
        }
        cost += 1 + (selection.selectionSet ? times * visit(selection.selectionSet, field ? getNamedType(field.type) : undefined, depth + 1) : 0);
      }
    }
    return cost;
  };
  return visit(operation.selectionSet, root, 0);
}

/** What one answer has read so far, shared by all the reads it makes (aliases read concurrently). */
class AnswerBudget {
  private spent = 0;
  private reserved = 0;
  constructor(readonly max: number) {}

  /**
   * The byte cap of a read of `wanted` records: what the answer has left, less what reads in
   * flight may still return and an envelope per record (the store measures only their JSON), and
   * no more than `wanted` records of the largest size, so a small read leaves the rest to the
   * answer's other reads. At least 1: the store then returns one record, which settle refuses if
   * it does not fit.
   */
  reserve(wanted: number, worst: number) {
    const free = this.max - this.spent - this.reserved - wanted * RECORD_ENVELOPE_BYTES;
    const bytes = Math.max(1, Math.min(wanted * worst, free));
    this.reserved += bytes;
    return { bytes, settle: (read: number) => ((this.reserved -= bytes), (this.spent += read), this.spent <= this.max) };
  }
}

/** The store as one answer sees it: reads in steps that cannot exceed the answer's budget. */
function budgetedStore(store: StreamStore, budget: AnswerBudget, worst: number, onRefused: () => void): StreamStore {
  const read: StreamStore["read"] = async (channel, fromSeqNum, limit, maxBytes) => {
    const records = [];
    let next = fromSeqNum;
    let left = limit;
    while (left > 0) {
      const { bytes, settle } = budget.reserve(left, worst);
      let batch;
      try {
        batch = await store.read(channel, next, left, Math.min(bytes, maxBytes ?? Infinity));
      } catch (error) {
        settle(0);
        throw error;
      }
      const got = batch.reduce((sum, r) => sum + recordBytes(r), 0);
      if (!settle(got)) {
        onRefused();
        throw new ApiError("PAYLOAD_TOO_LARGE", `the answer would hold more than ${budget.max} bytes of records: ask for fewer (a smaller limit, fewer aliases)`);
      }
      records.push(...batch);
      // A caller's own cap is one read. Otherwise a short read is the tail, unless the cap may
      // have cut it: the store's measure of JSON runs up to about twice ours (PostgreSQL's text of
      // jsonb has spaces), and the next record may be as large as a record can be.
      if (maxBytes !== undefined || batch.length === 0 || (batch.length < left && 2 * got + worst <= bytes)) break;
      next = batch.at(-1)!.seqNum + 1;
      left -= batch.length;
    }
    return records;
  };
  return Object.create(store, { read: { value: read } }) as StreamStore;
}

/**
 * Bounds what one query or mutation may make the server hold: a weighted cost checked before it
 * runs (BAD_USER_INPUT), and the bytes of records it reads, counted as they are read, so an
 * answer that would be too large is refused (PAYLOAD_TOO_LARGE) before it is built.
 */
export function answerLimits(options: AnswerLimitsOptions): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = listCost(args.schema, args.document, args.operationName, args.variableValues);
      const ctx = args.contextValue as unknown as Context;
      if (cost > options.maxCost) {
        options.refusals.record("list_cost", ctx.requestId, `operation cost ${cost}`);
        setResultAndStopExecution({
          errors: [badInput(`the operation's cost is ${cost}, above ${options.maxCost}: list fields count as many times as their limit/first/last`)],
        });
        return;
      }
      // An operation reads at most `cost` records (each counts once at least): when even that many
      // of the largest size fit, no budget is needed, and most operations (appends) skip it.
      if (cost * options.recordBytesMax <= options.answerBytes) return;
      const budget = new AnswerBudget(options.answerBytes);
      const store = budgetedStore(ctx.services.store, budget, options.recordBytesMax, () =>
        options.refusals.record("answer_bytes", ctx.requestId, "answer too large"),
      );
      // This answer's reads go through its budget; everything else about services is as it is.
      ctx.services = Object.create(ctx.services, { store: { value: store } });
    },
  };
}

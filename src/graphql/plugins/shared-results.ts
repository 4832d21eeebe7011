import { createSourceEventStream, execute, getOperationAST, visit, type DocumentNode, type ExecutionArgs, type ExecutionResult, type SelectionSetNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { StoredRecord } from "../../channels/index.js";
import { encodeResultData } from "../../live/index.js";

const isRecord = (payload: object): payload is StoredRecord => "seqNum" in payload && "data" in payload;

function encoded(result: ExecutionResult, record: StoredRecord | undefined) {
  if (result.data && !result.errors) encodeResultData(result.data, record);
  return result;
}

/** Marks a subscription root field whose event results are the same for every viewer. */
export const sharedResults = { sharedResults: true } as const;

/**
 * A channel's subscribers all receive the same record object from its follower (ChannelFanout).
 * For root fields marked with `sharedResults`, the per-event execution then runs once per record,
 * document and the variables of the root field's selection, and each further subscriber asking the
 * same gets that result: with a
 * thousand subscribers, one execution instead of a thousand. Auth is checked when each one
 * subscribes; a marked field must not resolve anything that depends on who is asking.
 * Each shared result's `data` is also encoded once (encodeResultData, splicing in the record's own
 * JSON): the byte budgets count it, and WebSockets send it, without encoding it per subscriber.
 */
export function sharedSubscriptionResults(onDelivered: () => void): Plugin {
  const results = new WeakMap<object, WeakMap<DocumentNode, Map<string, ExecutionResult | Promise<ExecutionResult>>>>();
  const executeShared = (args: ExecutionArgs, key: string, payload: unknown) => {
    onDelivered();
    if (typeof payload !== "object" || payload === null) return execute({ ...args, rootValue: payload });
    let byDocument = results.get(payload);
    if (!byDocument) results.set(payload, (byDocument = new WeakMap()));
    let byKey = byDocument.get(args.document);
    if (!byKey) byDocument.set(args.document, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) {
      const executed = execute({ ...args, rootValue: payload });
      const record = isRecord(payload) ? payload : undefined;
      result = "then" in executed ? executed.then((r) => encoded(r, record)) : encoded(executed, record);
      byKey.set(key, result);
    }
    return result;
  };
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      const root = operation?.selectionSet.selections[0];
      if (operation?.selectionSet.selections.length !== 1 || root?.kind !== "Field") return;
      if (!args.schema.getSubscriptionType()?.getFields()[root.name.value]?.extensions.sharedResults) return;
      const used = root.selectionSet ? variablesIn(root.selectionSet) : [];
      setSubscribeFn(async (args) => {
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in source)) return source;
        // Only what the event's execution reads: the variables inside the root field's selection.
        // The root field's own arguments (which session, from which seqNum, by id or by name) chose
        // the events, not what each one resolves to, so subscribers that resumed from different
        // positions or named the session differently share one execution per record once live.
        const values = args.variableValues ?? {};
        const key = `${args.operationName ?? ""}\n${JSON.stringify(used ? used.map((name) => values[name]) : values)}`;
        return mapEvents(source[Symbol.asyncIterator](), (payload) => executeShared(args, key, payload));
      });
    },
  };
}

/**
 * The variables a selection set refers to; undefined when it spreads a named fragment, whose own
 * uses are elsewhere in the document (then every variable counts).
 */
function variablesIn(selectionSet: SelectionSetNode): string[] | undefined {
  const names = new Set<string>();
  let spreads = false;
  visit(selectionSet, { Variable: (node) => void names.add(node.name.value), FragmentSpread: () => void (spreads = true) });
  return spreads ? undefined : [...names].sort();
}

const isPromiseLike = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof value === "object" && value !== null && typeof (value as PromiseLike<T>).then === "function";

/**
 * `source`'s events mapped by `map`, as graphql-yoga's mapAsyncIterator does (a failed map closes
 * the source and fails the stream), in one promise per event: yoga's builds several promise-like
 * objects and closures per event, which with a thousand subscribers of a channel was the largest
 * allocation on the delivery path, and each subscriber's waiting read lives across minor GCs.
 */
function mapEvents<T>(source: AsyncIterator<unknown>, map: (payload: unknown) => T | PromiseLike<T>): AsyncIterableIterator<T> {
  const closeWith = (error: unknown): Promise<never> => {
    const rethrow = (): never => {
      throw error;
    };
    return source.return ? Promise.resolve(source.return()).then(rethrow, rethrow) : Promise.reject(error);
  };
  const toResult = (value: T): IteratorResult<T> => ({ value, done: false });
  const onStep = (step: IteratorResult<unknown>): IteratorResult<T> | Promise<IteratorResult<T>> => {
    if (step.done) return step;
    let value: T | PromiseLike<T>;
    try {
      value = map(step.value);
    } catch (error) {
      return closeWith(error);
    }
    return isPromiseLike(value) ? Promise.resolve(value).then(toResult, closeWith) : { value, done: false };
  };
  const iterator: AsyncIterableIterator<T> = {
    next: () => source.next().then(onStep),
    return: (value?: unknown) => (source.return ? source.return(value).then(onStep) : Promise.resolve({ value: undefined, done: true })),
    throw: (error?: unknown) => (source.throw ? source.throw(error).then(onStep) : closeWith(error)),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

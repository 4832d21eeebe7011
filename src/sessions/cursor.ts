import { badInput } from "../errors/index.js";
import { textProblem } from "../text.js";
import { inDateRange } from "./date-range.js";

/** A position in the (createdAt DESC, id DESC) order of the session list. */
export interface ListCursor {
  createdAt: Date;
  id: string;
}

export const encodeCursor = (c: ListCursor) =>
  Buffer.from(JSON.stringify([c.createdAt.getTime(), c.id])).toString("base64url");

export function decodeCursor(cursor: string): ListCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === "string") {
      const createdAt = new Date(value[0] as number);
      // A cursor is ours only if it holds what encodeCursor writes: a storable instant and id.
      if (inDateRange(createdAt) && textProblem(value[1]) === undefined) return { createdAt, id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badInput("invalid cursor");
}

import { badInput } from "../errors.js";

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
      return { createdAt: new Date(value[0] as number), id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badInput("invalid cursor");
}

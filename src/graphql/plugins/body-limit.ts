import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorCode } from "../../errors/index.js";

/**
 * Request bodies must declare their length (Content-Length) and stay within `limit` bytes. Node's
 * HTTP parser then holds each body to its declared length, so nothing has to count bytes as they
 * stream in: yoga's own limit pipes every body through a transform stream, which cost about a tenth
 * of the server's CPU on small mutations. Answers in GraphQL's error shape, like any other error.
 * Returns true when it has answered the request; `onRefused` (default: nothing) counts the error.
 */
export function refuseBody(req: IncomingMessage, res: ServerResponse, limit: number, onRefused: (code: ErrorCode) => void = () => {}): boolean {
  const answer = (status: number, code: ErrorCode, message: string) => {
    onRefused(code);
    return send(res, status, code, message);
  };
  const length = req.headers["content-length"];
  if (length === undefined) {
    if (req.headers["transfer-encoding"] === undefined) return false;
    return answer(411, "BAD_USER_INPUT", "a request body needs a Content-Length header");
  }
  if (!/^\d+$/.test(length)) return answer(400, "BAD_USER_INPUT", "Content-Length header is invalid");
  if (Number(length) > limit) return answer(413, "PAYLOAD_TOO_LARGE", `request body over ${limit} bytes`);
  return false;
}

function send(res: ServerResponse, status: number, code: ErrorCode, message: string) {
  // Like every other error, it carries the request id (set on the response before this runs).
  const requestId = res.getHeader("x-request-id");
  // The body was not read: closing the connection spares reading it just to throw it away.
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", connection: "close" });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code, ...(typeof requestId === "string" && { requestId }) } }] }));
  return true;
}

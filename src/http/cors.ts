import type { YogaServerOptions } from "graphql-yoga";

/** What a browser script may read of a response besides the basics: the request id, for bug reports. */
const exposedHeaders = ["x-request-id"];

/**
 * Yoga's `cors` option for the allowed origins. Credentials are never allowed: callers
 * authenticate with a bearer token, never a cookie, so no page can borrow a visitor's session.
 * With `*`, any origin is answered (yoga echoes it, with `Vary: Origin`); with a list, an origin
 * outside it gets no CORS headers at all, so its browser keeps the response from the page.
 */
export function corsOptions(origins: "*" | string[]): NonNullable<YogaServerOptions<object, object>["cors"]> {
  const allowed = { credentials: false, exposedHeaders, maxAge: 600 } as const;
  if (origins === "*") return { ...allowed, origin: "*" };
  return (request: Request) => {
    const origin = request.headers.get("origin");
    return origin !== null && origins.includes(origin) ? { ...allowed, origin: [origin] } : false;
  };
}

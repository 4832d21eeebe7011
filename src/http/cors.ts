import type { YogaServerOptions } from "graphql-yoga";
import { z } from "zod";

/**
 * CORS_ORIGINS: `*` (the default) or origins separated by commas, each exactly as a browser sends
 * it in `Origin` (scheme://host[:port], no path or trailing slash).
 */
export const corsOriginsSchema = z
  .string()
  .trim()
  .default("*")
  .transform((value, ctx): "*" | string[] => {
    if (value === "*") return "*";
    const origins = value
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean);
    for (const origin of origins) {
      if (URL.canParse(origin) && new URL(origin).origin === origin) continue;
      ctx.addIssue({ code: "custom", message: `"${origin}" is not an origin (scheme://host[:port], no path); give origins separated by commas, or *` });
      return z.NEVER;
    }
    if (origins.length === 0) {
      ctx.addIssue({ code: "custom", message: "give origins separated by commas, or *" });
      return z.NEVER;
    }
    return origins;
  });

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

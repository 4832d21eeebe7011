import * as resolvers from "../resolvers/tokens.js";
import { builder } from "./builder.js";

const PublicAccessToken = builder.simpleObject("PublicAccessToken", {
  fields: (t) => ({
    token: t.string(),
    scopes: t.stringList(),
    expiresAt: t.field({ type: "DateTime" }),
  }),
});

builder.mutationField("createPublicAccessToken", (t) =>
  t.field({
    type: PublicAccessToken,
    description:
      "Needs a secret key. Scopes: read|input|write|admin:sessions[:<id>], read:all, write:all, admin. input: read, and append to the session's in channel only (a chat page).",
    args: t.validate({ scopes: t.arg.stringList({ required: true }), expiresIn: t.arg.string({ defaultValue: "15m" }) }, resolvers.tokenRequestSchema),
    authScopes: { secretKey: true },
    resolve: (_root, args, ctx) => resolvers.createPublicAccessToken(ctx, args),
  }),
);

const RevokePublicAccessTokensPayload = builder.simpleObject("RevokePublicAccessTokensPayload", {
  fields: (t) => ({ revokedBefore: t.field({ type: "DateTime" }) }),
});

builder.mutationField("revokePublicAccessTokens", (t) =>
  t.field({
    type: RevokePublicAccessTokensPayload,
    description:
      "Needs a secret key. Every public access token of this environment issued before now stops\nworking within 5 seconds, and the subscriptions opened with them end.",
    authScopes: { secretKey: true },
    resolve: (_root, _args, ctx) => resolvers.revokePublicAccessTokens(ctx),
  }),
);

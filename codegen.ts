import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for the operations under client/operations, from the server's printed schema.
// `npm run codegen` regenerates client/generated; a test fails when it is stale.
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["client/operations/**/*.graphql"],
  generates: {
    "client/generated/": {
      preset: "client",
      config: {
        useTypeImports: true,
        // NodeNext resolution wants explicit .js extensions on relative imports.
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: "string", JSON: "unknown", SeqNum: "number" },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
  silent: true,
};

export default config;

// The dependency rule of src/ (issue #13), run by `npm test` (scripts/test.sh).
// A domain is a folder of src/; its index.ts names its public surface. The files at the top of
// src/ are either the kernel every domain may use (configuration, the limits table, refusals,
// text and duration rules) or the composition root and entry points (services, server, main).
const kernel = "^src/(config|limits|refusals|text|duration)\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "domain-through-index",
      comment: "A domain is entered only through its index.ts: inside it, files move freely.",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/[^/]+/.", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$", "^src/generated/"] },
    },
    {
      name: "root-through-index",
      comment: "The composition root and entry points use domains as anyone else does: through index.ts.",
      severity: "error",
      from: { path: "^src/[^/]+\\.ts$" },
      to: { path: "^src/[^/]+/.", pathNot: ["^src/[^/]+/index\\.ts$", "^src/generated/"] },
    },
    {
      name: "kernel-stays-small",
      comment: "The kernel is imported by every domain, so it imports none (no cycles through it).",
      severity: "error",
      from: { path: kernel },
      to: { path: "^src/", pathNot: [kernel, "^src/generated/"] },
    },
    {
      name: "composition-root-is-a-root",
      comment: "Domains receive services; only type imports of the composition root are allowed.",
      severity: "error",
      from: { path: "^src/[^/]+/" },
      to: { path: "^src/(services|server|main)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "no-client-in-server",
      comment: "The server does not import the typed client (the CLI's tail is the one exception).",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^client/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/generated/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};

// npm start: the service bundled by esbuild (its own modules; packages stay in node_modules) and run
// by plain Node. Not tsx: tsx compiles with esbuild's keepNames, which gives every closure the code
// creates an own `name` property, about 6 kB more heap per live subscription (issue #17), and it
// keeps a transform and its source maps in memory for the process's life.
import { build } from "esbuild";
import { renameSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

// Two levels below the project like src/<folder>/*.ts, whose paths to web/, prisma/ and clickhouse/
// (new URL("../../…", import.meta.url)) then hold in the bundle too.
const outfile = fileURLToPath(new URL("../dist/server/main.js", import.meta.url));
// Written under a name of its own, then renamed into place: nodes started together each build, and
// none may import a file another is half-way through writing.
const partial = `${outfile}.${process.pid}.tmp`;
await build({
  entryPoints: [fileURLToPath(new URL("../src/main.ts", import.meta.url))],
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: `node${process.versions.node}`,
  outfile: partial,
  sourcemap: "inline",
  logLevel: "warning",
});
renameSync(partial, outfile);
// Stack traces in the logs name src/ files and lines.
process.setSourceMapsEnabled(true);
await import(pathToFileURL(outfile).href);

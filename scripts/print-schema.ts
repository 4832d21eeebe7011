// Writes the server's SDL to schema.graphql: codegen reads it, and the contract check compares it.
import { writeFileSync } from "node:fs";
import { printSchemaFile } from "../src/graphql/schema/print.js";

writeFileSync(new URL("../schema.graphql", import.meta.url), printSchemaFile());
console.log("wrote schema.graphql");

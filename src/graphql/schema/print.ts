import { printSchema } from "graphql";
import { schema } from "./index.js";

export const printSchemaFile = () => `${printSchema(schema)}\n`;

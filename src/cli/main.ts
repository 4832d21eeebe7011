// `npm run sessions -- env create|list|rotate-key|rotate-signing-key|rotate-webhook-secret …`: environments and their keys
// (OPERATING.md, src/cli/env.ts); `npm run sessions -- tail <session>`: follow a channel from a terminal.
import { EnvironmentExistsError, UnknownEnvironmentError } from "../auth/index.js";
import { ConfigError } from "../config.js";
import { env, envUsage, UsageError } from "./env.js";
import { tail } from "./tail.js";

const usage = `usage: ${envUsage} | sessions tail <session> [--in] [--from N]`;

async function main(argv: string[]): Promise<number> {
  const [group] = argv;
  if (group === "tail") return tail(argv.slice(1));
  if (group === "env") return env(argv.slice(1));
  console.error(usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
      console.error(error.message);
      process.exit(2);
    }
    const known =
      error instanceof ConfigError || error instanceof EnvironmentExistsError || error instanceof UnknownEnvironmentError || error?.name === "ZodError";
    console.error(known ? (error.issues?.[0]?.message ?? error.message) : `sessions: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);

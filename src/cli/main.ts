// `npm run sessions -- env create <slug>` / `env list`: environment and key management (OPERATING.md);
// `npm run sessions -- tail <session>`: follow a channel from a terminal.
import { createEnvironment, EnvironmentExistsError, listEnvironments } from "../auth/environments.js";
import { ConfigError, loadConfig } from "../config.js";
import { openDatabase } from "../db/open.js";
import { tail } from "./tail.js";

const usage = "usage: sessions env create <slug> | sessions env list | sessions tail <session> [--in] [--from N]";

async function main(argv: string[]): Promise<number> {
  const [group, command, arg] = argv;
  if (group === "tail") return tail(argv.slice(1));
  if (group !== "env" || !["create", "list"].includes(command ?? "")) {
    console.error(usage);
    return 2;
  }
  const db = await openDatabase(loadConfig());
  try {
    if (command === "create") {
      if (!arg) {
        console.error(usage);
        return 2;
      }
      const { secretKey } = await createEnvironment(db.prisma, arg);
      // Exactly one line: scripts capture it as the key.
      console.log(secretKey);
    } else {
      for (const e of await listEnvironments(db.prisma)) console.log(`${e.slug}\t${e.id}\t${e.createdAt.toISOString()}`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    const known = error instanceof ConfigError || error instanceof EnvironmentExistsError || error?.name === "ZodError";
    console.error(known ? (error.issues?.[0]?.message ?? error.message) : `sessions: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);

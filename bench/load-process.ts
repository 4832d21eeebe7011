import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Runs a load generator from bench/clients in its own Node process and returns what it prints
 * last (JSON). Clients in the server's own process would bill their CPU to the server and make
 * both wait on one event loop; a real deployment's clients are elsewhere.
 */
export function runClient<T>(name: string, input: unknown): Promise<T> {
  const script = fileURLToPath(new URL(`./clients/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(input)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`bench client ${name} exited with ${code}`));
      resolve(JSON.parse(out.trim().split("\n").at(-1)!) as T);
    });
  });
}

/** The client side: its input, and how it hands back its result. */
export const clientInput = <T>() => JSON.parse(process.argv[2]!) as T;
export const clientResult = (result: unknown) => process.stdout.write(`${JSON.stringify(result)}\n`);

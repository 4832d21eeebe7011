import { spawn } from "node:child_process";

/** Starts the service in its own process exactly as `npm start` does, and waits for its listening line. */
export function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const ready = new Promise<{ url: string; wsUrl: string; stdout: string }>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /^listening on (http:\/\/\S+)$/m.exec(stdout);
      if (m) resolve({ url: m[1]!, wsUrl: `${m[1]!.replace(/^http/, "ws")}/graphql`, stdout });
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${stdout}${stderr}`)));
  });
  const stop = (signal: NodeJS.Signals = "SIGTERM") =>
    new Promise<number | null>((resolve) => {
      // Gone already: exited (exitCode) or killed by a signal (signalCode; exitCode stays null).
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.on("exit", (code) => resolve(code));
      child.kill(signal);
    });
  return { child, ready, stop, output: () => stdout + stderr };
}

/**
 * Collects what a child process writes and resolves waits on it as the text arrives, so a test
 * waits for a line instead of polling its buffer on a timer.
 */
export function watchOutput(...streams: NodeJS.ReadableStream[]) {
  let text = "";
  let waiters: (() => boolean)[] = [];
  for (const stream of streams) {
    stream.on("data", (chunk: Buffer | string) => {
      text += chunk;
      waiters = waiters.filter((satisfied) => !satisfied());
    });
  }
  return {
    text: () => text,
    /** Resolves once the output holds `needle`; rejects with the output so far after timeoutMs. */
    until(needle: string, timeoutMs = 20_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(needle)} within ${timeoutMs} ms in:\n${text}`)), timeoutMs);
        const satisfied = () => {
          if (!text.includes(needle)) return false;
          clearTimeout(timer);
          resolve();
          return true;
        };
        if (!satisfied()) waiters.push(satisfied);
      });
    },
  };
}

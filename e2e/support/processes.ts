// Spawning and stopping the product's processes for tests, with their output kept in a log file.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";

export interface TRunning {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function start(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; logFile: string },
): TRunning {
  const log = createWriteStream(options.logFile, { flags: "a" });
  // Own process group, so stop() reaches npm and everything under it, like Ctrl-C in a terminal.
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 1_000_000) output = output.slice(-500_000);
    log.write(chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const match = pattern.exec(output);
        if (match) return match[0];
        if (child.exitCode !== null)
          throw new Error(
            `${command} exited (${child.exitCode}) before printing ${pattern}; see ${options.logFile}`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`timed out waiting for ${pattern} from ${command}; see ${options.logFile}`);
    },
    async stop(signal = "SIGINT", timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

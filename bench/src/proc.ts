// CPU time of processes, from /proc (Linux), for the benches' per-transaction and per-event figures.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
export const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim() || 100);

/** CPU ticks (user + system) a process has used so far. */
export function cpuTicks(pid: number | string): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, after the comm field
}

/** CPU ticks of every process with this command name (e.g. all of Postgres's backends). */
export function cpuTicksOf(command: string): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === command) total += cpuTicks(pid);
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/**
 * CPU ticks every core has spent busy so far (user, nice, system, irq, softirq from /proc/stat; idle, iowait
 * and time stolen by a hypervisor left out). On a machine running nothing but the bench, the difference
 * over a run is what the run cost end to end: client, proxy, databases, control plane.
 */
export function machineBusyTicks(): number {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = cpu;
  return user + nice + system + irq + softirq;
}

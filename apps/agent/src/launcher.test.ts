// The launcher that the Dockerfile, `npm start` and the bench run the agent through: its malloc settings
// keep the agent's RSS down (see bin/portcullis-agent), and a deployment can still override them.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const LAUNCHER = fileURLToPath(new URL("../bin/portcullis-agent", import.meta.url));
// `-p` makes Node print instead of running the bundle, so this needs no build.
const PROBE =
  "JSON.stringify({ arenas: process.env.MALLOC_ARENA_MAX, trim: process.env.MALLOC_TRIM_THRESHOLD_, mmap: process.env.MALLOC_MMAP_THRESHOLD_, execArgv: process.execArgv, script: process.argv[1] })";

function launch(env: Record<string, string>) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("MALLOC_")),
  );
  const output = execFileSync(LAUNCHER, ["-p", PROBE], {
    env: { ...inherited, NODE: process.execPath, ...env },
    encoding: "utf8",
  });
  return JSON.parse(output) as {
    arenas?: string;
    trim?: string;
    mmap?: string;
    execArgv: string[];
    script: string;
  };
}

describe("bin/portcullis-agent", () => {
  it("runs the bundle with two malloc arenas and fixed trim and mmap thresholds", () => {
    const run = launch({});
    expect(run).toMatchObject({ arenas: "2", trim: "131072", mmap: "131072" });
    expect(run.execArgv).toEqual(["--enable-source-maps", "-p", expect.any(String)]);
    expect(path.resolve(run.script)).toBe(fileURLToPath(new URL("../dist/main.mjs", import.meta.url)));
  });

  it("keeps settings the deployment made", () => {
    expect(launch({ MALLOC_ARENA_MAX: "4" })).toMatchObject({ arenas: "4", trim: "131072" });
  });
});

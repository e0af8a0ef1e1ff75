// Production builds of our Node entry points (the agent, the control plane's server, the bench's control
// plane): one ESM file each, run with plain `node --enable-source-maps`. Under tsx every module is
// transformed at start-up and every function wrapped to keep its name; a bundle does neither, so the process
// starts faster and spends less CPU per request (README, Performance). Our workspace packages are
// TypeScript and get bundled; npm packages stay external and load from node_modules as they are
// (libpg-query finds its WebAssembly next to itself, Prisma its query compiler, bufferutil its addon).
//
// Bundled modules see the bundle's import.meta.url. Output goes three directories below the repository
// root (apps/<app>/dist/), the same depth as packages/<pkg>/src/, so a source-relative URL such as the
// migrator's `../../../prisma/migrations` resolves to the same place; a wrong one fails at start-up.
import { build } from "esbuild";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";

/** Bundles `entry` into `outfile` (plus its source map), replacing any earlier build atomically. */
export async function bundleNodeEntry({ entry, outfile }) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    logLevel: "warning",
    write: false,
    plugins: [
      {
        name: "npm-packages-external",
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@portcullis/") ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  // Written aside and renamed: a process starting from this checkout (two demos, say) never loads half a file.
  await mkdir(path.dirname(outfile), { recursive: true });
  for (const file of result.outputFiles) {
    const partial = `${file.path}.${process.pid}.tmp`;
    await writeFile(partial, file.contents);
    await rename(partial, file.path);
  }
}

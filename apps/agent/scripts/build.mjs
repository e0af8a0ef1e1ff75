// Production build of the agent: one ESM file, apps/agent/dist/main.mjs, run with plain `node`.
// Under tsx every module is transformed at start-up and every function wrapped to keep its name; the
// bundle does neither, so the agent starts faster and spends less CPU per statement (see the README's
// Performance section). Our workspace packages are TypeScript and get bundled; npm packages stay
// external and load from node_modules as they are (libpg-query finds its WebAssembly next to itself,
// bufferutil its native addon).
import { build } from "esbuild";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = path.join(root, "dist", "main.mjs");

const result = await build({
  entryPoints: [path.join(root, "src", "main.ts")],
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
// Written aside and renamed: an agent starting from this checkout (two demos, say) never loads half a file.
await mkdir(path.dirname(outfile), { recursive: true });
for (const file of result.outputFiles) {
  const partial = `${file.path}.${process.pid}.tmp`;
  await writeFile(partial, file.contents);
  await rename(partial, file.path);
}

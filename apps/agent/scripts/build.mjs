// Production build of the agent: apps/agent/dist/main.mjs, run with `node --enable-source-maps`.
// See scripts/bundle-node.mjs for what is bundled and why.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleNodeEntry } from "../../../scripts/bundle-node.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
await bundleNodeEntry({
  entry: path.join(root, "src", "main.ts"),
  outfile: path.join(root, "dist", "main.mjs"),
});

// Production build of the control plane's process (server.ts: Next.js, the agents' WebSocket link,
// notifications): apps/web/dist/server.mjs, run with `node --enable-source-maps`. `next build` compiles the
// dashboard itself; this bundles only the custom server around it. See scripts/bundle-node.mjs.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleNodeEntry } from "../../../scripts/bundle-node.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
await bundleNodeEntry({
  entry: path.join(root, "server.ts"),
  outfile: path.join(root, "dist", "server.mjs"),
});

// The bench's control plane (src/control-plane.ts: the production agent gateway on a bare HTTP server),
// built the way the real one is (scripts/bundle-node.mjs), so the bench measures production code.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleNodeEntry } from "../../scripts/bundle-node.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
await bundleNodeEntry({
  entry: path.join(root, "src", "control-plane.ts"),
  outfile: path.join(root, "dist", "control-plane.mjs"),
});

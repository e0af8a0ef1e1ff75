import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const TMP = path.join(ROOT, "e2e", ".tmp");
export const DEMOS_FILE = path.join(TMP, "demos.json");

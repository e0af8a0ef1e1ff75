// The benchmark's control plane: the production agent gateway (the same code server.ts mounts) on a bare
// HTTP server, without the Next.js dashboard, which plays no part in the agent's hot path.
// Usage: node dist/control-plane.mjs <store url> <port> <secret> (built by scripts/build-control-plane.mjs)
import { createServer } from "node:http";
import { attachAgentGateway } from "@portcullis/api/agent-gateway";
import { createDb, deriveSecretKey } from "@portcullis/db";
import { pino } from "pino";

const [storeUrl, port, secret] = process.argv.slice(2);
if (!storeUrl || !port || !secret) throw new Error("usage: control-plane.ts <store url> <port> <secret>");
const logger = pino({ level: "warn" });
const db = createDb(storeUrl, { poolMax: 4 });
const server = createServer((_req, res) => {
  res.statusCode = 404;
  res.end();
});
const gateway = attachAgentGateway(server, { db, secretKey: deriveSecretKey(secret), logger });
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("control plane ready\n"));
process.on("SIGTERM", () => {
  void gateway.close().then(() => process.exit(0));
});

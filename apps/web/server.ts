// The control plane's process: one HTTP server for Next.js (dashboard, tRPC, REST API) and the agents'
// WebSocket link. A custom server because route handlers cannot accept WebSocket upgrades.
//   production: npm run build && npm start (node dist/server.mjs, bundled by scripts/build-server.mjs)
//   development: tsx server.ts --dev
import { createServer, type IncomingMessage } from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { AGENT_LINK_PATH } from "@portcullis/api";
import {
  attachAgentGateway,
  createNotifier,
  registerAgentGateway,
  registerNotifier,
} from "@portcullis/api/agent-gateway";
import { createAuditStreamForwarder } from "@portcullis/api/audit-streams/forwarder";
import { deriveSecretKey } from "@portcullis/db";
import { migrate } from "@portcullis/db/migrator";
import next from "next";
import { env } from "./env.ts";
import { getDb } from "./lib/db.ts";
import { bodyLimitFor, limitRequestBody, pathnameOf, securityHeaders } from "./lib/http-guards.ts";
import { logger } from "./lib/logger.ts";

const SHUTDOWN_GRACE_MS = 5000;
/** The Next.js app's directory: this file's, or its parent when running as the bundle in dist/. */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const APP_DIR = path.basename(HERE) === "dist" ? path.dirname(HERE) : HERE;

async function main() {
  const dev = process.argv.includes("--dev");
  if (!dev && env.NODE_ENV !== "production") {
    throw new Error(
      "Production mode needs NODE_ENV=production (`npm start` sets it); use --dev for development.",
    );
  }
  // next-auth v4 reads its own variable to build callback URLs; ours is PUBLIC_URL. Set before Next starts.
  // eslint-disable-next-line no-restricted-properties
  process.env.NEXTAUTH_URL ??= env.PUBLIC_URL;

  // Pending migrations are applied before anything reads the store; an advisory lock serialises replicas.
  const migrations = await migrate(env.DATABASE_URL);
  if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, "database migrated");

  const db = getDb();
  // Next attaches its upgrade listener (HMR in dev) lazily to `httpServer`. It gets this never-listening
  // server, and only the upgrades that are not the agent link, so it can never end an agent's socket.
  const nextUpgrades = createServer();
  const app = next({
    dev,
    dir: APP_DIR,
    hostname: env.HOST,
    port: env.PORT,
    httpServer: nextUpgrades,
  });
  const handle = app.getRequestHandler();
  await app.prepare();

  const headers = securityHeaders(dev);
  const trustProxy = env.PORTCULLIS_TRUST_PROXY === "on";
  const server = createServer((req, res) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    // Sign-in limits count per client address: without a proxy in front, the client does not get to name it.
    if (!trustProxy) req.headers["x-forwarded-for"] = req.socket.remoteAddress ?? "";
    const pathname = pathnameOf(req);
    if (pathname === null) {
      res.writeHead(400, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: { code: "BAD_REQUEST", message: "Unparseable request target" } }));
      return;
    }
    if (!limitRequestBody(req, res, bodyLimitFor(pathname))) return;
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, "request failed");
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = pathnameOf(req);
    // An upgrade nobody takes would hold its socket (and a file descriptor) forever: it is closed.
    if (pathname === null) return void socket.destroy();
    if (pathname === AGENT_LINK_PATH) return; // the gateway's own listener takes it
    // Next only upgrades for HMR (dev); in production it would leave any other upgrade hanging.
    if (dev && nextUpgrades.listenerCount("upgrade") > 0) nextUpgrades.emit("upgrade", req, socket, head);
    else socket.destroy();
  });

  const secretKey = deriveSecretKey(env.PORTCULLIS_SECRET_KEY);
  const gateway = attachAgentGateway(server, {
    db,
    secretKey,
    logger: logger.child({ component: "agent-gateway" }),
    replicas: env.PORTCULLIS_REPLICA_SIGNALS === "on" ? { databaseUrl: env.DATABASE_URL } : undefined,
  });
  // Onboarding (tRPC, in Next's bundle) asks agents to probe databases through this gateway.
  registerAgentGateway(gateway);
  // Before serving, listen for the other replicas: a decision sent before that would go unconfirmed. A store
  // that refuses the listening connection must not keep the dashboard down; it keeps retrying meanwhile.
  const listening = await Promise.race([
    gateway.replicasReady().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
  ]);
  if (!listening) logger.warn("not yet listening for other replicas' signals; retrying in the background");
  registerNotifier(
    createNotifier({
      publicUrl: env.PUBLIC_URL,
      slackWebhookUrl: env.SLACK_WEBHOOK_URL,
      webhookUrl: env.PORTCULLIS_WEBHOOK_URL,
      webhookSecret: env.PORTCULLIS_WEBHOOK_SECRET,
      logger: logger.child({ component: "notifications" }),
    }),
  );

  // Audit streams (SIEM collectors): every replica runs a forwarder; the store's lease makes them take turns.
  const auditStreams = createAuditStreamForwarder({
    db,
    secretKey,
    logger: logger.child({ component: "audit-streams" }),
    allowedHosts: env.PORTCULLIS_AUDIT_STREAM_HOSTS,
  });
  auditStreams.start();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  logger.info({ dev, publicUrl: env.PUBLIC_URL }, `listening on http://${env.HOST}:${env.PORT}`);

  let stopping = false;
  async function shutdown(signal: NodeJS.Signals) {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown took too long, exiting");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    // Requests still in flight halfway through the grace period are cut so the rest can close in time.
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS / 2).unref();
    const closeStep = async (name: string, close: () => Promise<unknown>) => {
      const startedAt = Date.now();
      try {
        await close();
        logger.debug({ ms: Date.now() - startedAt }, `${name} closed`);
      } catch (err) {
        logger.warn({ err }, `${name} failed to close`);
      }
    };
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.all([
      closeStep("agent gateway", () => gateway.close()),
      closeStep("audit streams", () => auditStreams.close()),
      closeStep("http server", () => serverClosed),
      closeStep("next", () => app.close()),
    ]);
    await closeStep("database", () => db.$disconnect());
    logger.info("stopped");
    process.exit(0);
  }
  process.once("SIGTERM", (signal) => void shutdown(signal));
  process.once("SIGINT", (signal) => void shutdown(signal));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, "control plane failed to start");
  process.exit(1);
});

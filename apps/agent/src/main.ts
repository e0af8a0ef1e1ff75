// The agent process: link to the control plane, durable audit spool, governor and Postgres listener.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { initParser } from "@portcullis/policy";
import { pino } from "pino";
import { env } from "./env.ts";
import { Governor } from "./governor.ts";
import { probeDatabase } from "./probe.ts";
import { ControlPlaneLink } from "./link/control-plane-link.ts";
import { SchemaCatalogs } from "./proxy/catalog.ts";
import { startProxyServer } from "./proxy/server.ts";
import { AuditSpool } from "./spool/audit-spool.ts";
import { spoolHasRoom } from "./proxy/audit-room.ts";

export const AGENT_VERSION = "0.1.0";
/** How often open sessions are re-checked against expiring grants and tokens. */
const REAUTHORIZE_EVERY_MS = 2_000;
/** Disk the spool may use while the control plane is away. Past 90% of it, statements are refused. */
const SPOOL_MAX_BYTES = env.PORTCULLIS_AUDIT_SPOOL_MAX_MB * 1024 * 1024;

/** The control plane's page for one approval (the agent reaches the control plane at the same base URL). */
function approvalLink(approvalId: string): string {
  const base = new URL(env.PORTCULLIS_CONTROL_PLANE_URL);
  if (base.protocol === "ws:") base.protocol = "http:";
  if (base.protocol === "wss:") base.protocol = "https:";
  return new URL(`/approvals/${approvalId}`, base).toString();
}

const logger = pino({ level: env.LOG_LEVEL, base: { service: "portcullis-agent" } });

async function main(): Promise<void> {
  const dataDir = path.resolve(env.PORTCULLIS_AGENT_DATA_DIR);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await initParser();

  const spool = await AuditSpool.open(path.join(dataDir, "spool"), {
    logger,
    maxBytes: SPOOL_MAX_BYTES,
    memoryBytes: env.PORTCULLIS_AUDIT_SPOOL_MEMORY_MB * 1024 * 1024,
  });
  const governor = new Governor({ catalogs: new SchemaCatalogs(logger) });
  const link = new ControlPlaneLink({
    url: env.PORTCULLIS_CONTROL_PLANE_URL,
    enrollmentToken: env.PORTCULLIS_ENROLLMENT_TOKEN,
    credentialFile: path.join(dataDir, "credential.json"),
    policyCacheFile: path.join(dataDir, "policy.json"),
    agentVersion: AGENT_VERSION,
    logger,
    spool,
  });

  const proxy = await startProxyServer({
    host: env.PORTCULLIS_LISTEN_HOST,
    port: env.PORTCULLIS_LISTEN_PORT,
    logger,
    tls:
      env.PORTCULLIS_TLS_CERT_FILE && env.PORTCULLIS_TLS_KEY_FILE
        ? { cert: readFileSync(env.PORTCULLIS_TLS_CERT_FILE), key: readFileSync(env.PORTCULLIS_TLS_KEY_FILE) }
        : undefined,
    allowCleartextRemote: env.PORTCULLIS_ALLOW_CLEARTEXT_REMOTE,
    idleTimeoutMs: env.PORTCULLIS_IDLE_TIMEOUT_MS || undefined,
    hooks: {
      authenticate: (request) => governor.authenticate(request),
      decide: (session, sql) => governor.decide(session, sql),
      // Audit fails closed: what the spool has no room to record does not run.
      auditRoom: (bytes) => spoolHasRoom(bytes, spool.bytes, SPOOL_MAX_BYTES),
      masking: (session) => governor.sessionMasking(session),
      prepareSession: (session) => governor.prepareSession(session),
      requestApproval: (session, request) => {
        const approvalId = randomUUID();
        const statement = request.verdict.statements[Math.max(0, request.verdict.offendingIndex)];
        const decision = link.requestApproval(
          {
            approvalId,
            sessionId: session.sessionId,
            identityId: session.identityId,
            connectionId: session.connectionId,
            statement: request.statement.slice(0, 100_000),
            statementClass: statement?.class ?? "unknown",
            tables: statement
              ? [...new Set([...statement.tablesRead, ...statement.tablesWritten])].slice(0, 200)
              : [],
            ruleId: request.verdict.ruleId,
            ruleName: request.verdict.ruleName,
            message: request.verdict.message.slice(0, 2000),
          },
          env.PORTCULLIS_APPROVAL_TIMEOUT_S * 1000,
        );
        return {
          link: approvalLink(approvalId),
          decision,
          withdraw: (reason) => link.withdrawApproval(approvalId, reason),
        };
      },
      schemaChanged: (session) => governor.schemaChanged(session),
      schemaSettled: (session) => governor.schemaSettled(session),
      remask: (session, statement, judgedWith) => governor.remask(session, statement, judgedWith),
      sessionsChanged: () => link.sessionsChanged(),
      record: (event, json) => {
        try {
          spool.append(event, json);
        } catch (error) {
          logger.error({ err: error, eventId: event.id }, "audit event could not be spooled");
          // Its statement ran unrecorded (withAuditRoom's estimate fell short): its session goes no further.
          if (event.sessionId !== null)
            proxy.terminateSessions(
              (info) => info.sessionId === event.sessionId,
              "terminating connection: the Portcullis agent could not record an audit event",
            );
        }
      },
    },
  });

  link.setAddress(env.PORTCULLIS_PUBLIC_ADDRESS ?? `${env.PORTCULLIS_LISTEN_HOST}:${proxy.port}`);
  link.setSessionSource(() => ({
    active: proxy.activeSessions,
    open: proxy.liveSessions(1000).map(({ info, startedAt }) => ({
      sessionId: info.sessionId,
      identityName: info.identityName,
      identityKind: info.identityKind,
      connectionId: info.connectionId,
      connectionName: info.connectionName,
      environment: info.environment,
      clientAddr: info.clientAddr.slice(0, 100),
      applicationName: info.applicationName.slice(0, 200),
      startedAt: startedAt.toISOString(),
    })),
  }));
  let announced = false;
  const reauthorize = () => {
    const endedByAdmin = proxy.terminateSessions(
      (info) => governor.wasEnded(info),
      "terminating connection: an administrator ended this session",
    );
    if (endedByAdmin > 0) logger.info({ ended: endedByAdmin }, "ended sessions an administrator ended");
    const ended = proxy.terminateSessions(
      (info) => !governor.stillAuthorized(info),
      "terminating connection: your access to this database was revoked or has expired",
    );
    if (ended > 0) logger.info({ ended }, "ended sessions that lost their access");
  };
  link.on("policy", (snapshot) => {
    governor.update(snapshot);
    logger.info(
      { revision: snapshot.revision, connections: snapshot.connections.map((c) => c.name) },
      "policy applied",
    );
    reauthorize();
    if (!announced) {
      announced = true;
      // The launcher waits for this line: the agent now accepts clients with a policy to enforce.
      logger.info({ port: proxy.port, revision: snapshot.revision }, "ready");
    }
  });
  link.on("probe", (request) => {
    logger.info(
      { requestId: request.requestId, host: request.upstream.host, database: request.upstream.database },
      "probing a database for onboarding",
    );
    void probeDatabase({ ...request.upstream }, request.scan).then((result) =>
      link.sendProbeResult(request.requestId, result),
    );
  });
  const timer = setInterval(reauthorize, REAUTHORIZE_EVERY_MS);
  timer.unref();
  link.start();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second signal: no more grace for busy sessions.
      logger.info({ signal }, "ending every session now");
      proxy.terminateSessions(() => true, "terminating connection: the Portcullis agent is shutting down");
      return;
    }
    stopping = true;
    logger.info({ signal, graceMs: env.PORTCULLIS_SHUTDOWN_GRACE_MS }, "stopping");
    // Grants keep being enforced during the grace: one that expires then still ends its sessions.
    await proxy.close(env.PORTCULLIS_SHUTDOWN_GRACE_MS);
    clearInterval(timer);
    // Let the last events reach the spool file; unacknowledged ones are resent by the next run.
    await link.stop();
    await spool.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, "agent failed to start");
  process.exit(1);
});

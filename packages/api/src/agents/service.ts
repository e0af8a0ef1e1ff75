// Agents as the control plane sees them, and one-time enrollment tokens for new ones.
import {
  appendAuditEvents,
  controlPlaneEvent,
  issueEnrollmentToken,
  listAgents,
  type TAgentSummary,
  type TDb,
} from "@portcullis/db";
import { connectionScopeOf, requireUnscoped, type TCaller } from "../auth.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import { ZAgentList, ZIssuedEnrollment, ZIssueEnrollmentInput, type TAgentDto } from "./schemas.ts";

/** Agents heartbeat every 15 s; three missed beats is offline. */
export const AGENT_OFFLINE_AFTER_MS = 45_000;

export function toAgentDto(row: TAgentSummary, now = Date.now()): TAgentDto {
  const seen = row.lastHeartbeatAt?.getTime() ?? null;
  return {
    id: row.id,
    name: row.name,
    status: seen === null ? "never_connected" : now - seen <= AGENT_OFFLINE_AFTER_MS ? "online" : "offline",
    version: row.version,
    hostname: row.hostname,
    lastHeartbeatAt: row.lastHeartbeatAt?.toISOString() ?? null,
    startedAt: row.startedAt?.toISOString() ?? null,
    connections: row.connections,
    openEnrollments: row.openEnrollments,
  };
}

export const agentService = {
  /**
   * A token scoped to connections sees the agents serving them, each with only those of its connections:
   * other connections are as unknown to it as ones that do not exist.
   */
  async list(db: TDb, caller: TCaller): Promise<TAgentDto[]> {
    const scope = connectionScopeOf(caller);
    const agents = (await listAgents(db))
      .map((a) => (scope ? { ...a, connections: a.connections.filter((c) => scope.includes(c.id)) } : a))
      .filter((a) => !scope || a.connections.length > 0);
    return parseOutput(
      ZAgentList,
      agents.map((a) => toAgentDto(a)),
      "Agents",
    );
  },

  async issueEnrollment(db: TDb, caller: TCaller, rawInput: unknown) {
    const input = parseInput(ZIssueEnrollmentInput, rawInput);
    requireUnscoped(
      caller,
      "An enrollment token (re)enrolls an agent and hands it every connection it serves, with their database passwords",
    );
    const issued = await issueEnrollmentToken(db, input.name, input.expiresInMinutes * 60_000);
    await appendAuditEvents(db, [
      controlPlaneEvent({
        type: "admin_change",
        actor: caller.identity,
        decision: "allowed",
        message: `issued an enrollment token for agent "${issued.agent.name}" (expires ${issued.expiresAt.toISOString()})`,
        agentId: issued.agent.id,
      }),
    ]);
    return parseOutput(
      ZIssuedEnrollment,
      {
        agentId: issued.agent.id,
        agentName: issued.agent.name,
        token: issued.token,
        expiresAt: issued.expiresAt.toISOString(),
      },
      "Enrollment",
    );
  },
};

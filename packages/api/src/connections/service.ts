// Connections: onboarding (test and scan a database through its agent, create the connection with its
// guardrails, masking and grants) and short-lived credentials for the people granted access.
import {
  createConnection,
  IdentityConflictError,
  issueDatabaseCredential,
  listGrantedConnections,
  NotFoundError,
  recentAgentAddresses,
  type TDb,
} from "@portcullis/db";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import { agentGateway } from "../agent-link/registry.ts";
import { AGENT_OFFLINE_AFTER_MS } from "../agents/service.ts";
import { coversConnection, requireUnscoped, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZCredentialInput,
  ZIssuedCredential,
  ZMyConnections,
  ZCreateConnectionInput,
  ZCreatedConnection,
  ZProbeConnectionInput,
  ZProbeConnectionResult,
  type TProbeConnectionResult,
} from "./schemas.ts";

/**
 * Where clients reach each agent that is online: from this replica's own links, else from its recent
 * heartbeat (the agent is linked to another replica). The same rule as the Agents page's "online".
 */
async function onlineAgentAddresses(db: TDb, agentIds: string[]): Promise<Map<string, string>> {
  const gateway = agentGateway();
  const addresses = new Map<string, string>();
  const elsewhere: string[] = [];
  for (const id of new Set(agentIds)) {
    const local = gateway?.agentAddress(id);
    if (local) addresses.set(id, local);
    else elsewhere.push(id);
  }
  const since = new Date(Date.now() - AGENT_OFFLINE_AFTER_MS);
  for (const [id, address] of await recentAgentAddresses(db, elsewhere, since)) addresses.set(id, address);
  return addresses;
}

export const connectionService = {
  async probe(caller: TCaller, rawInput: unknown): Promise<TProbeConnectionResult> {
    const input = parseInput(ZProbeConnectionInput, rawInput);
    requireUnscoped(caller, "Probing a database through an agent is part of onboarding a new connection");
    const gateway = agentGateway();
    if (!gateway) throw new AppError("INTERNAL", "The agent gateway is not running in this process");
    const { agentId, scan, tlsCa, ...upstream } = input;
    const result = await gateway.probe(agentId, { ...upstream, ca: tlsCa }, { scan });
    return parseOutput(
      ZProbeConnectionResult,
      {
        ok: result.ok,
        error: result.error,
        serverVersion: result.serverVersion,
        tablesScanned: result.tablesScanned,
        suggestions: result.classifications.map((c) => ({
          table: c.table,
          column: c.column,
          category: c.category,
          confidence: c.confidence,
          evidence: c.evidence,
          name: c.suggestedRuleName,
          columnPattern: `${c.table}.${c.column}`,
          strategy: c.suggestedStrategy,
        })),
      },
      "Probe",
    );
  },

  async create(db: TDb, caller: TCaller, secretKey: Buffer | undefined, rawInput: unknown) {
    const input = parseInput(ZCreateConnectionInput, rawInput);
    requireUnscoped(caller, "A new connection is outside every scope a token has");
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to encrypt the database password with");
    try {
      const created = await createConnection(
        db,
        caller.identity,
        {
          ...input,
          guardrails: input.applyBaseline
            ? PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> }))
            : [],
        },
        secretKey,
      );
      return parseOutput(ZCreatedConnection, created, "Connection");
    } catch (error) {
      if (error instanceof IdentityConflictError) throw new AppError("CONFLICT", error.message);
      if (error instanceof NotFoundError) throw new AppError("NOT_FOUND", error.message);
      throw error;
    }
  },

  /** The connections the caller may reach now (with a token scoped to connections: through it, so of those). */
  async mine(db: TDb, caller: TCaller) {
    const rows = (await listGrantedConnections(db, caller.identity.id)).filter((r) =>
      coversConnection(caller, r.id),
    );
    const online = await onlineAgentAddresses(
      db,
      rows.map((r) => r.agentId),
    );
    return parseOutput(
      ZMyConnections,
      rows.map((r) => ({
        id: r.id,
        name: r.name,
        environment: r.environment,
        accessUntil: r.until?.toISOString() ?? null,
        agentOnline: online.has(r.agentId),
      })),
      "Connections",
    );
  },

  /** A short-lived credential of the caller's own, and the connection string that uses it. */
  async credential(db: TDb, caller: TCaller, secretKey: Buffer | undefined, rawInput: unknown) {
    const input = parseInput(ZCredentialInput, rawInput);
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to sign credentials with");
    const mine = (await listGrantedConnections(db, caller.identity.id)).find(
      (c) => c.id === input.connectionId,
    );
    if (!mine) throw new AppError("FORBIDDEN", "You have no access to this connection");
    if (!coversConnection(caller, mine.id))
      throw new AppError("FORBIDDEN", "This API token is scoped to other connections");
    const address = (await onlineAgentAddresses(db, [mine.agentId])).get(mine.agentId);
    if (!address) throw new AppError("CONFLICT", "The agent serving this connection is offline");
    let issued;
    try {
      issued = await issueDatabaseCredential(db, secretKey, {
        identity: caller.identity,
        connectionId: mine.id,
        ttlMs: input.ttlMinutes * 60_000,
      });
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new AppError("FORBIDDEN", "You have no access to this connection");
      throw error;
    }
    const url = `postgresql://${encodeURIComponent(caller.identity.name)}:${issued.token}@${address}/${encodeURIComponent(mine.name)}`;
    return parseOutput(
      ZIssuedCredential,
      { connection: mine.name, expiresAt: issued.expiresAt.toISOString(), url, psql: `psql "${url}"` },
      "Credential",
    );
  },
};

// Onboarding a database as a connection: the connection (secret encrypted at rest), its baseline guardrails,
// accepted masking rules and grants, one policy revision bump and one audit record, in one transaction.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { encryptSecret } from "../secrets.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { IdentityConflictError, NotFoundError } from "./identities.ts";
import { bumpPolicyRevision } from "./policy.ts";
import type { TAdminActor, TGuardrailFields } from "./policy-rules.ts";

export interface TNewConnection {
  agentId: string;
  name: string;
  environment: string;
  host: string;
  port: number;
  database: string;
  username: string;
  password: string | null;
  tlsMode: "disable" | "require" | "verify-ca" | "verify-full";
  /** PEM CA bundle for verify-ca / verify-full; null: the agent's system store. */
  tlsCa: string | null;
  guardrails: Omit<TGuardrailFields, "description" | "enabled" | "requiredApprovals" | "approverGroup">[];
  maskingRules: {
    name: string;
    columnPattern: string;
    strategy: "redact" | "partial" | "hash" | "null" | "format_preserving";
  }[];
  grantIdentityIds: string[];
  /** Groups whose members may connect, as the identity provider names them (created if new). */
  grantGroups: string[];
}

export async function createConnection(
  db: TDb,
  actor: TAdminActor,
  input: TNewConnection,
  secretKey: Buffer,
): Promise<{ id: string; name: string; environment: string }> {
  return db.$transaction(async (tx) => {
    if (await tx.connection.findUnique({ where: { name: input.name }, select: { id: true } }))
      throw new IdentityConflictError(`A connection named ${input.name} already exists`);
    if (!(await tx.agent.findUnique({ where: { id: input.agentId }, select: { id: true } })))
      throw new NotFoundError(`agent ${input.agentId}`);
    const identities = await tx.identity.findMany({
      where: { id: { in: input.grantIdentityIds } },
      select: { id: true, name: true },
    });
    if (identities.length !== new Set(input.grantIdentityIds).size)
      throw new NotFoundError("one of the grantees");

    const connection = await tx.connection.create({
      data: {
        name: input.name,
        environment: input.environment,
        agentId: input.agentId,
        host: input.host,
        port: input.port,
        database: input.database,
        username: input.username,
        secretCiphertext: input.password === null ? null : encryptSecret(input.password, secretKey),
        tlsMode: input.tlsMode,
        tlsCa: input.tlsCa,
      },
      select: { id: true, name: true, environment: true },
    });
    if (input.guardrails.length > 0)
      await tx.guardrail.createMany({
        data: input.guardrails.map((g) => ({
          ...g,
          connectionId: connection.id,
          match: g.match as Prisma.InputJsonValue,
        })),
      });
    if (input.maskingRules.length > 0)
      await tx.maskingRule.createMany({
        data: input.maskingRules.map((m) => ({ ...m, connectionId: connection.id, detector: null })),
      });
    const groups = await Promise.all(
      [...new Set(input.grantGroups)].map((name) =>
        tx.group.upsert({ where: { name }, create: { name }, update: {}, select: { id: true, name: true } }),
      ),
    );
    const grantees = [
      ...identities.map((i) => ({ identityId: i.id })),
      ...groups.map((g) => ({ groupId: g.id })),
    ];
    if (grantees.length > 0)
      await tx.grant.createMany({
        data: grantees.map((grantee) => ({
          ...grantee,
          connectionId: connection.id,
          grantedById: actor.id,
          reason: "granted at onboarding",
        })),
      });
    const granted = [...identities.map((i) => i.name), ...groups.map((g) => `group ${g.name}`)];
    const revision = await bumpPolicyRevision(tx);
    await appendAuditEventsIn(tx, [
      controlPlaneEvent({
        type: "admin_change",
        actor,
        decision: "allowed",
        message: `onboarded connection "${connection.name}" (${connection.environment}): ${input.guardrails.length} guardrails, ${input.maskingRules.length} masking rules, access for ${granted.join(", ") || "nobody yet"}`,
        connection,
        agentId: input.agentId,
        // The secret is not part of the record.
        details: {
          revision,
          target: { host: input.host, port: input.port, database: input.database, username: input.username },
          guardrails: input.guardrails.map((g) => g.name),
          maskingRules: input.maskingRules,
          grants: granted,
        },
      }),
    ]);
    return connection;
  });
}

/** The connections an agent serves: the only ones its audit events and live sessions may name. */
export async function listAgentConnections(
  db: TDb,
  agentId: string,
): Promise<{ id: string; name: string; environment: string }[]> {
  return db.connection.findMany({ where: { agentId }, select: { id: true, name: true, environment: true } });
}

/** The agent that serves a connection, for building that agent's snapshot. */
export async function findConnectionAgent(
  db: TDb,
  connectionId: string,
): Promise<{ agentId: string } | null> {
  return db.connection.findUnique({ where: { id: connectionId }, select: { agentId: true } });
}

// Idempotent bootstrap of the zero-setup demo's control-plane records. Secrets come from the caller (the
// launcher keeps them in ./.data so a second start prints working lines again); only hashes are stored.
import type { TDb } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import { bumpPolicyRevision } from "./repositories/policy.ts";
import { hashPassword, hashToken, tokenDisplayPrefix, verifyPassword } from "./secrets.ts";

export interface TDemoSecrets {
  adminPassword: string;
  adminApiToken: string;
  developerToken: string;
  copilotToken: string;
}

export interface TDemoGuardrail {
  name: string;
  priority: number;
  action: "allow" | "block" | "require_approval";
  message: string;
  match: Record<string, unknown>;
}

export interface TDemoMaskingRule {
  name: string;
  columnPattern: string | null;
  detector: string | null;
  strategy: "redact" | "partial" | "hash" | "null" | "format_preserving";
}

/**
 * The demo's masking rules: PII columns of its `customers` table, and content detectors as a second line of
 * defence for copies of such values in columns nobody tagged. `npm run bench` runs with the same set.
 */
export const DEMO_MASKING_RULES: readonly TDemoMaskingRule[] = [
  { name: "Mask customer emails", columnPattern: "customers.email", detector: null, strategy: "partial" },
  { name: "Mask customer phones", columnPattern: "customers.phone", detector: null, strategy: "partial" },
  { name: "Mask SSNs", columnPattern: "customers.ssn", detector: null, strategy: "partial" },
  { name: "Mask card numbers", columnPattern: "customers.credit_card", detector: null, strategy: "partial" },
  { name: "Hide API tokens", columnPattern: "customers.api_token", detector: null, strategy: "redact" },
  { name: "Hide birth dates", columnPattern: "customers.birth_date", detector: null, strategy: "null" },
  ...(["email", "us_ssn", "payment_card", "api_key", "jwt", "private_key", "cloud_key"] as const).map(
    (detector) => ({
      name: `Detect ${detector.replace("_", " ")} values anywhere`,
      columnPattern: null,
      detector,
      strategy: "redact" as const,
    }),
  ),
];

export const DEMO_IDENTITIES = {
  admin: { name: "admin@demo.local", displayName: "Demo Admin", kind: "human", roles: ["admin", "approver"] },
  developer: { name: "dev@demo.local", displayName: "Dana Developer", kind: "human", roles: ["member"] },
  copilot: {
    name: "copilot@demo.local",
    displayName: "Copilot (AI agent)",
    kind: "ai_agent",
    roles: ["member"],
  },
} as const;

async function upsertIdentity(
  db: TDb,
  spec: (typeof DEMO_IDENTITIES)[keyof typeof DEMO_IDENTITIES],
  password?: string,
) {
  const existing = await db.identity.findUnique({
    where: { name: spec.name },
    select: { id: true, passwordHash: true },
  });
  const passwordHash =
    password === undefined
      ? undefined
      : existing?.passwordHash && (await verifyPassword(password, existing.passwordHash))
        ? existing.passwordHash
        : await hashPassword(password);
  const data = {
    displayName: spec.displayName,
    kind: spec.kind,
    roles: [...spec.roles],
    ...(passwordHash ? { passwordHash } : {}),
  };
  const row = existing
    ? await db.identity.update({ where: { id: existing.id }, data, select: { id: true } })
    : await db.identity.create({ data: { name: spec.name, ...data }, select: { id: true } });
  return row.id;
}

async function ensureToken(db: TDb, identityId: string, name: string, token: string): Promise<void> {
  const tokenHash = hashToken(token);
  await db.apiToken.upsert({
    where: { tokenHash },
    create: { identityId, name, tokenHash, prefix: tokenDisplayPrefix(token) },
    update: { revokedAt: null },
  });
}

async function ensureGrant(
  db: TDb,
  identityId: string,
  connectionId: string,
  grantedById: string,
): Promise<void> {
  const existing = await db.grant.findFirst({
    where: { identityId, connectionId, revokedAt: null, expiresAt: null },
    select: { id: true },
  });
  if (!existing)
    await db.grant.create({ data: { identityId, connectionId, grantedById, reason: "Demo access" } });
}

export async function seedDemo(
  db: TDb,
  options: {
    secrets: TDemoSecrets;
    agentName: string;
    connection: {
      name: string;
      environment: string;
      host: string;
      port: number;
      database: string;
      username: string;
    };
    guardrails: readonly TDemoGuardrail[];
    maskingRules?: readonly TDemoMaskingRule[];
  },
): Promise<{ connectionId: string; agentId: string }> {
  const adminId = await upsertIdentity(db, DEMO_IDENTITIES.admin, options.secrets.adminPassword);
  const developerId = await upsertIdentity(db, DEMO_IDENTITIES.developer);
  const copilotId = await upsertIdentity(db, DEMO_IDENTITIES.copilot);
  await ensureToken(db, adminId, "Demo admin API token", options.secrets.adminApiToken);
  await ensureToken(db, developerId, "Demo developer token", options.secrets.developerToken);
  await ensureToken(db, copilotId, "Demo copilot token", options.secrets.copilotToken);

  const agent = await db.agent.upsert({
    where: { name: options.agentName },
    create: { name: options.agentName },
    update: {},
    select: { id: true },
  });
  const { name, ...target } = options.connection;
  // The embedded demo database gets a new port on every start: keep the record pointing at it.
  const connection = await db.connection.upsert({
    where: { name },
    create: { name, agentId: agent.id, ...target },
    update: { agentId: agent.id, host: target.host, port: target.port },
    select: { id: true },
  });
  await ensureGrant(db, developerId, connection.id, adminId);
  await ensureGrant(db, copilotId, connection.id, adminId);

  // Seed the rules once; after that they are the admin's to edit.
  if ((await db.guardrail.count({ where: { connectionId: connection.id } })) === 0) {
    await db.guardrail.createMany({
      data: options.guardrails.map((g) => ({
        ...g,
        match: g.match as Prisma.InputJsonValue,
        connectionId: connection.id,
      })),
    });
  }
  if (
    (await db.maskingRule.count({ where: { connectionId: connection.id } })) === 0 &&
    options.maskingRules?.length
  ) {
    await db.maskingRule.createMany({
      data: options.maskingRules.map((m) => ({ ...m, connectionId: connection.id })),
    });
  }
  await bumpPolicyRevision(db);
  return { connectionId: connection.id, agentId: agent.id };
}

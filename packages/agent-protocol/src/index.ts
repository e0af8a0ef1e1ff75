// The agent <-> control-plane contract. Every frame is JSON with `v` (protocol version) and `type`.
// Both sides parse incoming frames with these schemas; a frame that does not parse is logged and dropped,
// never trusted. Bump PROTOCOL_VERSION on an incompatible change and keep accepting the previous one.
import { z } from "zod";

export const PROTOCOL_VERSION = 1 as const;

/** Path of the WebSocket endpoint on the control plane. Auth: `Authorization: Bearer <credential|enrollment token>`. */
export const AGENT_LINK_PATH = "/api/agents/connect";

export const ZDecision = z.enum([
  "allowed",
  "blocked",
  "masked",
  "pending_approval",
  "approved",
  "denied",
  "error",
]);
export type TDecision = z.infer<typeof ZDecision>;

export const ZIdentityKind = z.enum(["human", "service", "ai_agent"]);
export type TIdentityKind = z.infer<typeof ZIdentityKind>;

export const ZAuditEventType = z.enum([
  "statement",
  "session_start",
  "session_end",
  "auth_failure",
  "admin_change",
  "approval",
  "grant",
]);

/** The longest value of each text field of an audit event, and the most entries of each list (ZAuditEvent). */
export const AUDIT_EVENT_LIMITS = {
  actorName: 320,
  actorKind: 32,
  connectionName: 200,
  environment: 100,
  clientAddr: 100,
  applicationName: 200,
  statement: 1_000_000,
  fingerprint: 64,
  statementClass: 32,
  ruleId: 100,
  ruleName: 200,
  message: 10_000,
  error: 10_000,
  /** Each entry of tables, columns and maskedColumns. */
  name: 300,
  tables: 1000,
  columns: 5000,
  maskedColumns: 5000,
} as const;

const L = AUDIT_EVENT_LIMITS;

/** One audit event as produced by an agent (or the control plane). The id makes redelivery idempotent. */
export const ZAuditEvent = z.object({
  id: z.uuid(),
  type: ZAuditEventType,
  occurredAt: z.iso.datetime({ offset: true }),
  actorId: z.uuid().nullable(),
  actorName: z.string().max(L.actorName),
  actorKind: z.string().max(L.actorKind),
  connectionId: z.uuid().nullable(),
  connectionName: z.string().max(L.connectionName).nullable(),
  environment: z.string().max(L.environment).nullable(),
  sessionId: z.uuid().nullable(),
  clientAddr: z.string().max(L.clientAddr).nullable(),
  applicationName: z.string().max(L.applicationName).nullable(),
  statement: z.string().max(L.statement).nullable(),
  fingerprint: z.string().max(L.fingerprint).nullable(),
  statementClass: z.string().max(L.statementClass).nullable(),
  decision: ZDecision,
  ruleId: z.string().max(L.ruleId).nullable(),
  ruleName: z.string().max(L.ruleName).nullable(),
  message: z.string().max(L.message).nullable(),
  tables: z.array(z.string().max(L.name)).max(L.tables),
  columns: z.array(z.string().max(L.name)).max(L.columns),
  maskedColumns: z.array(z.string().max(L.name)).max(L.maskedColumns),
  rowCount: z.number().int().nonnegative().nullable(),
  durationMs: z.number().nonnegative().nullable(),
  error: z.string().max(L.error).nullable(),
});
export type TAuditEvent = z.infer<typeof ZAuditEvent>;

/** A UTF-16 surrogate not part of a pair (in a `u` regex a pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;

/** Whether Postgres can store the text: it refuses NUL and unpaired surrogates (a string cut inside an emoji). */
export function isStorableText(text: string): boolean {
  return !text.includes("\0") && !LONE_SURROGATE.test(text);
}

/** The text with NUL and lone surrogates replaced by U+FFFD; the same string when there are none. */
export function storableText(text: string): string {
  if (isStorableText(text)) return text;
  return text.replace(LONE_SURROGATES, "\uFFFD").replaceAll("\0", "\uFFFD");
}

/**
 * `value` as an audit event can carry it: at most `max` UTF-16 units, cut between characters, and storable
 * (storableText: one event Postgres refuses would fail its whole batch). Values a client chooses
 * (application_name, a user name, a RAISE message) reach events: an event that did not fit its schema would be
 * refused by the control plane and lost.
 */
export function fitAuditText(value: string, max: number): string {
  let out = value;
  if (out.length > max) {
    const cut = max > 0 && isHighSurrogate(out.charCodeAt(max - 1)) ? max - 1 : max;
    out = out.slice(0, cut);
  }
  return storableText(out);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

const TEXT_FIELDS = [
  "actorName",
  "actorKind",
  "connectionName",
  "environment",
  "clientAddr",
  "applicationName",
  "statement",
  "fingerprint",
  "statementClass",
  "ruleId",
  "ruleName",
  "message",
  "error",
] as const;

const LIST_FIELDS = ["tables", "columns", "maskedColumns"] as const;

/** The event with every text and list fitted to ZAuditEvent (see fitAuditText); the same object when it fits. */
export function conformAuditEvent(event: TAuditEvent): TAuditEvent {
  let out = event;
  for (const field of TEXT_FIELDS) {
    const value = event[field];
    if (value === null) continue;
    const fitted = fitAuditText(value, L[field]);
    if (fitted !== value) out = { ...out, [field]: fitted };
  }
  for (const field of LIST_FIELDS) {
    const list = event[field];
    const fitted = fitAuditNames(list, L[field]);
    if (fitted !== list) out = { ...out, [field]: fitted };
  }
  return out;
}

/** A list of names fitted to an audit event (see fitAuditText); the same array when it fits. */
export function fitAuditNames(names: readonly string[], max: number): string[] {
  let changed = names.length > max;
  const kept = changed ? names.slice(0, max) : names;
  const fitted = kept.map((name) => {
    const f = fitAuditText(name, L.name);
    if (f !== name) changed = true;
    return f;
  });
  return changed ? fitted : (names as string[]);
}

export const ZGuardrailAction = z.enum(["allow", "block", "require_approval"]);

export const ZGuardrailRule = z.object({
  id: z.string(),
  name: z.string(),
  priority: z.number().int(),
  action: ZGuardrailAction,
  message: z.string(),
  /** Criteria, interpreted by @portcullis/policy (ZGuardrailMatch there). Kept opaque here on purpose. */
  match: z.record(z.string(), z.unknown()),
});
export type TGuardrailRule = z.infer<typeof ZGuardrailRule>;

export const ZMaskingRule = z.object({
  id: z.string(),
  name: z.string(),
  columnPattern: z.string().nullable(),
  detector: z.string().nullable(),
  strategy: z.enum(["redact", "partial", "hash", "null", "format_preserving"]),
  exemptIdentities: z.array(z.string()),
  exemptGroups: z.array(z.string()),
});
export type TMaskingRule = z.infer<typeof ZMaskingRule>;

/** A credential that lets an identity in through the agent: the sha256 of the token, never the token. */
export const ZAccessCredential = z.object({
  identityId: z.uuid(),
  identityName: z.string(),
  identityKind: ZIdentityKind,
  groups: z.array(z.string()),
  tokenHash: z.string().length(64),
  /** ISO time after which the credential (or the grant behind it) no longer admits anyone. */
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
});
export type TAccessCredential = z.infer<typeof ZAccessCredential>;

/** An identity's grant to a connection: what a short-lived signed database credential is checked against. */
export const ZConnectionGrant = z.object({
  identityId: z.uuid(),
  identityName: z.string(),
  identityKind: ZIdentityKind,
  groups: z.array(z.string()),
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
});
export type TConnectionGrant = z.infer<typeof ZConnectionGrant>;

/** A public key the control plane signs short-lived database credentials with (Ed25519, SPKI DER, base64). */
export const ZCredentialKey = z.object({
  kid: z.string().min(1).max(64),
  publicKey: z.string().min(1).max(200),
});
export type TCredentialKey = z.infer<typeof ZCredentialKey>;

/**
 * The signed part of a short-lived database credential, `pcdb_<base64url(JSON payload)>.<base64url(signature)>`:
 * the agent verifies it offline with a key from its snapshot.
 */
export const ZSignedCredentialPayload = z.object({
  kid: z.string(),
  /** Identity id. */
  sub: z.uuid(),
  /** Connection id. */
  cid: z.uuid(),
  /** Expiry, seconds since the epoch. */
  exp: z.number().int(),
  jti: z.string().min(8).max(64),
});
export type TSignedCredentialPayload = z.infer<typeof ZSignedCredentialPayload>;

/** Largest CA bundle a connection may carry (a cloud provider's regional bundle is well under this). */
export const MAX_CA_BUNDLE_CHARS = 256 * 1024;

export const ZConnectionPolicy = z.object({
  id: z.uuid(),
  name: z.string(),
  environment: z.string(),
  upstream: z.object({
    host: z.string(),
    port: z.number().int().min(1).max(65535),
    database: z.string(),
    username: z.string(),
    password: z.string().nullable(),
    tlsMode: z.enum(["disable", "require", "verify-ca", "verify-full"]),
    /** PEM CA bundle that verify-ca / verify-full trust (a private CA, a cloud provider's); null: the system's. */
    ca: z.string().max(MAX_CA_BUNDLE_CHARS).nullable().default(null),
  }),
  credentials: z.array(ZAccessCredential),
  /** Older control planes do not send grants: short-lived credentials then admit nobody. */
  grants: z.array(ZConnectionGrant).default([]),
  guardrails: z.array(ZGuardrailRule),
  maskingRules: z.array(ZMaskingRule),
});
export type TConnectionPolicy = z.infer<typeof ZConnectionPolicy>;

/** A client session open through an agent, as its heartbeat reports it. */
export const ZLiveSession = z.object({
  sessionId: z.uuid(),
  identityName: z.string().max(320),
  identityKind: z.string().max(20),
  connectionId: z.uuid(),
  connectionName: z.string().max(200),
  environment: z.string().max(100),
  clientAddr: z.string().max(100),
  applicationName: z.string().max(200),
  startedAt: z.iso.datetime({ offset: true }),
});
export type TLiveSession = z.infer<typeof ZLiveSession>;

export const ZPolicySnapshot = z.object({
  revision: z.number().int().nonnegative(),
  issuedAt: z.iso.datetime({ offset: true }),
  /** Per-deployment key (hex) for keyed masking (hash, format-preserving): same input, same output everywhere. */
  maskingKey: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  connections: z.array(ZConnectionPolicy),
  /** Keys of short-lived database credentials, newest first (the previous one stays during rotation). */
  credentialKeys: z.array(ZCredentialKey).default([]),
  /** Sessions an admin ended (recently): the agent closes any of them still open. */
  endedSessions: z.array(z.uuid()).default([]),
});
export type TPolicySnapshot = z.infer<typeof ZPolicySnapshot>;

export const ZUpstreamTarget = ZConnectionPolicy.shape.upstream;
export type TUpstreamTargetSpec = z.infer<typeof ZUpstreamTarget>;

/** A sensitive column the agent's discovery found (same shape as the policy package's classification). */
export const ZProbeClassification = z.object({
  table: z.string(),
  column: z.string(),
  category: z.string(),
  confidence: z.number().min(0).max(1),
  evidence: z.array(z.string()),
  suggestedStrategy: z.enum(["redact", "partial", "hash", "null", "format_preserving"]),
  suggestedRuleName: z.string(),
});
export type TProbeClassification = z.infer<typeof ZProbeClassification>;

export const ZProbeResult = z.object({
  ok: z.boolean(),
  /** Why the agent could not connect or read, when ok is false. */
  error: z.string().nullable(),
  serverVersion: z.string().nullable(),
  tablesScanned: z.number().int().nonnegative(),
  /** Sample values never leave the agent: discovery runs there, only its verdicts come back. */
  classifications: z.array(ZProbeClassification),
});
export type TProbeResult = z.infer<typeof ZProbeResult>;

const base = { v: z.literal(PROTOCOL_VERSION) };

// Agent -> control plane
export const ZAgentMessage = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("hello"),
    agentVersion: z.string().max(50),
    hostname: z.string().max(255),
    spooled: z.number().int().nonnegative(),
    /** host:port where clients reach this agent (for the dashboard's connection strings). */
    address: z.string().max(300).optional(),
    /** When this agent process started: sessions begun before it died with the previous one. */
    startedAt: z.iso.datetime({ offset: true }).optional(),
  }),
  z.object({ ...base, type: z.literal("events"), events: z.array(ZAuditEvent).min(1).max(500) }),
  z.object({
    ...base,
    type: z.literal("heartbeat"),
    activeSessions: z.number().int().nonnegative(),
    spooled: z.number().int().nonnegative(),
    /** The client sessions open now (the newest 1000), for the dashboard's live sessions. */
    sessions: z.array(ZLiveSession).max(1000).optional(),
  }),
  z.object({ ...base, type: z.literal("probe.result"), requestId: z.uuid(), result: ZProbeResult }),
  /** A statement held in its session until approvers decide (the agent issues the id). */
  z.object({
    ...base,
    type: z.literal("approval.request"),
    approvalId: z.uuid(),
    sessionId: z.uuid(),
    identityId: z.uuid(),
    connectionId: z.uuid(),
    statement: z.string().max(100_000),
    statementClass: z.string().max(50),
    tables: z.array(z.string().max(300)).max(200),
    ruleId: z.string().max(200).nullable(),
    ruleName: z.string().max(300).nullable(),
    message: z.string().max(2000),
    expiresAt: z.iso.datetime({ offset: true }),
  }),
  /** The held statement's session ended before a decision: the request is withdrawn, nothing would run. */
  z.object({
    ...base,
    type: z.literal("approval.withdraw"),
    approvalId: z.uuid(),
    reason: z.string().max(500),
  }),
]);
export type TAgentMessage = z.infer<typeof ZAgentMessage>;

// Control plane -> agent
export const ZControlMessage = z.discriminatedUnion("type", [
  /** Sent once, first, when the socket was opened with an enrollment token: persist the credential. */
  z.object({
    ...base,
    type: z.literal("enrolled"),
    agentId: z.uuid(),
    agentName: z.string(),
    credential: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal("welcome"),
    agentId: z.uuid(),
    agentName: z.string(),
    serverTime: z.iso.datetime({ offset: true }),
  }),
  z.object({ ...base, type: z.literal("policy"), snapshot: ZPolicySnapshot }),
  /** Ids the control plane has stored (or already had): the agent may drop them from its spool. */
  z.object({ ...base, type: z.literal("events.ack"), ids: z.array(z.uuid()) }),
  /** Ids refused as invalid; the agent drops them too, and logs them, so one bad event cannot block the spool. */
  z.object({ ...base, type: z.literal("events.reject"), ids: z.array(z.string()), reason: z.string() }),
  /** The outcome of an approval request: the agent runs or refuses the held statement. */
  z.object({
    ...base,
    type: z.literal("approval.decision"),
    approvalId: z.uuid(),
    approved: z.boolean(),
    decidedBy: z.string().nullable(),
    reason: z.string().max(2000),
  }),
  /** Connect to a database as a new connection would (onboarding), and optionally scan it for sensitive data. */
  z.object({
    ...base,
    type: z.literal("probe"),
    requestId: z.uuid(),
    upstream: ZUpstreamTarget,
    scan: z.boolean(),
  }),
]);
export type TControlMessage = z.infer<typeof ZControlMessage>;

export function encodeMessage(message: TAgentMessage | TControlMessage): string {
  return JSON.stringify(message);
}

export function parseAgentMessage(raw: string): TAgentMessage | { error: string } {
  return parseWith(ZAgentMessage, raw);
}

export function parseControlMessage(raw: string): TControlMessage | { error: string } {
  return parseWith(ZControlMessage, raw);
}

function parseWith<T>(schema: z.ZodType<T>, raw: string): T | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { error: "frame is not JSON" };
  }
  const result = schema.safeParse(json);
  return result.success ? result.data : { error: z.prettifyError(result.error) };
}

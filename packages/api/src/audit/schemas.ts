import { ZDecision, ZIdentityKind } from "@portcullis/agent-protocol";
import { z } from "zod";
import { ZInstant } from "../lib/instant.ts";
import { ZText } from "../lib/text.ts";

const optionalText = (max: number) => ZText.trim().min(1).max(max).optional();

const optionalInstant = ZInstant().optional();

// Strict: a misspelt filter must fail loudly, not silently return everything.
const ZAuditEventFilterShape = z.strictObject({
  /** Case-insensitive match on statement, actor, connection and message. */
  text: optionalText(500),
  /** Exact actor name, e.g. dev@demo.local. */
  actor: optionalText(320),
  actorKind: ZIdentityKind.optional(),
  /** Connection name, or its id. */
  connection: optionalText(200),
  environment: optionalText(100),
  decision: ZDecision.optional(),
  table: optionalText(300),
  /** A column the statement referenced, as resolved: "customers.email". */
  column: optionalText(300),
  /** All events of one client session, in the timeline's order. */
  session: z.uuid().optional(),
  /** Inclusive lower bound. */
  from: optionalInstant,
  /** Exclusive upper bound. */
  to: optionalInstant,
});

function fromBeforeTo(f: { from?: string; to?: string }, ctx: z.RefinementCtx) {
  if (f.from && f.to && Date.parse(f.from) >= Date.parse(f.to)) {
    ctx.addIssue({ code: "custom", message: "`from` must be before `to`", path: ["from"] });
  }
}

export const ZAuditEventFilter = ZAuditEventFilterShape.superRefine(fromBeforeTo);
export type TAuditEventFilter = z.infer<typeof ZAuditEventFilter>;

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 500;

// Coerced because the REST edge hands over query-string values.
const limit = z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT);
/** Opaque, from a previous page's nextCursor. */
const cursor = ZText.min(1).max(200).nullish();

export const ZAuditEventListInput = z.object({ filter: ZAuditEventFilter.default({}), limit, cursor });
export type TAuditEventListInput = z.input<typeof ZAuditEventListInput>;

/** The REST API's flat query string (`?decision=blocked&limit=100`), so errors name the parameter the client sent. */
export const ZAuditEventQuery = ZAuditEventFilterShape.extend({ limit, cursor }).superRefine(fromBeforeTo);

/** What clients see of an audit event: JSON-safe (ISO times, seq as a string), no storage internals. */
export const ZAuditEventDto = z.object({
  id: z.string(),
  seq: ZText.regex(/^\d+$/),
  occurredAt: z.iso.datetime(),
  type: z.string(),
  actorId: z.string().nullable(),
  actorName: z.string(),
  actorKind: z.string(),
  connectionId: z.string().nullable(),
  connectionName: z.string().nullable(),
  environment: z.string().nullable(),
  agentId: z.string().nullable(),
  sessionId: z.string().nullable(),
  clientAddr: z.string().nullable(),
  applicationName: z.string().nullable(),
  statement: z.string().nullable(),
  fingerprint: z.string().nullable(),
  statementClass: z.string().nullable(),
  decision: ZDecision,
  ruleId: z.string().nullable(),
  ruleName: z.string().nullable(),
  message: z.string().nullable(),
  tables: z.array(z.string()),
  columns: z.array(z.string()),
  maskedColumns: z.array(z.string()),
  rowCount: z.number().int().nullable(),
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
  /** Structured context, e.g. an admin change's rule before and after. */
  details: z.json().nullable(),
  hash: z.string(),
});
export type TAuditEventDto = z.infer<typeof ZAuditEventDto>;

export const ZAuditEventPage = z.object({
  items: z.array(ZAuditEventDto),
  nextCursor: z.string().nullable(),
});
export type TAuditEventPage = z.infer<typeof ZAuditEventPage>;

/** An event's position and hash: the head a verification reported, kept outside the store. */
export const ZChainAnchor = z.object({
  seq: z.string().regex(/^\d{1,19}$/, "seq is the event's sequence number"),
  hash: z.string().regex(/^[0-9a-f]{64}$/, "hash is 64 lowercase hex digits"),
});
export type TChainAnchor = z.infer<typeof ZChainAnchor>;

export const ZAuditChainVerifyInput = z
  .object({
    /** Heads reported by earlier verifications: each must still be in the chain, with its hash. */
    anchors: z.array(ZChainAnchor).max(100).default([]),
  })
  .strict();
export type TAuditChainVerifyInput = z.input<typeof ZAuditChainVerifyInput>;

export const ZAuditChainVerification = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  firstBroken: z.object({ seq: z.string(), id: z.string(), reason: z.string() }).nullable(),
  /** The newest event checked; pass it back as an anchor later to detect events cut off since. */
  head: ZChainAnchor.nullable(),
});
export type TAuditChainVerification = z.infer<typeof ZAuditChainVerification>;

export const ACTIVITY_RANGES = {
  "24h": { seconds: 24 * 3600, bucketSeconds: 3600 },
  "7d": { seconds: 7 * 86_400, bucketSeconds: 6 * 3600 },
  "30d": { seconds: 30 * 86_400, bucketSeconds: 86_400 },
} as const;

export const ZAuditActivityInput = z.object({
  range: z.enum(["24h", "7d", "30d"]).default("24h"),
});
export type TAuditActivityInput = z.input<typeof ZAuditActivityInput>;

const ZCount = z.number().int().min(0);

export const ZAuditActivity = z.object({
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  bucketSeconds: z.number().int(),
  /** Every bucket of the window, oldest first, empty ones included. */
  buckets: z.array(
    z.object({
      start: z.iso.datetime(),
      allowed: ZCount,
      masked: ZCount,
      refused: ZCount,
      held: ZCount,
      error: ZCount,
    }),
  ),
  actors: z.array(
    z.object({ name: z.string(), kind: z.string(), statements: ZCount, refused: ZCount, masked: ZCount }),
  ),
  tables: z.array(z.object({ name: z.string(), statements: ZCount, writes: ZCount, masked: ZCount })),
  totals: z.object({
    statements: ZCount,
    refused: ZCount,
    masked: ZCount,
    held: ZCount,
    identities: ZCount,
    sessions: ZCount,
  }),
});
export type TAuditActivityDto = z.infer<typeof ZAuditActivity>;

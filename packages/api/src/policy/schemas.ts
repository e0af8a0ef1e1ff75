import { z } from "zod";
import { ZText } from "../lib/text.ts";

export const ZPolicyPreviewInput = z
  .object({
    /** Connection name or id. */
    connection: ZText.min(1).max(200),
    sql: ZText.min(1).max(100_000),
    /** Who would run it: masking exemptions and identity rules depend on it. */
    identityName: ZText.max(320).default("preview@portcullis.local"),
    identityKind: z.enum(["human", "service", "ai_agent"]).default("human"),
    groups: z.array(ZText.max(200)).max(100).default([]),
    /** Rules being edited and not saved yet, evaluated together with the connection's stored ones. */
    draftGuardrails: z
      .array(
        z.object({
          name: ZText.min(1).max(200),
          priority: z.number().int(),
          action: z.enum(["allow", "block", "require_approval"]),
          message: ZText.max(1000),
          match: z.record(z.string(), z.unknown()),
        }),
      )
      .max(50)
      .default([]),
    draftMaskingRules: z
      .array(
        z.object({
          name: ZText.min(1).max(200),
          columnPattern: ZText.max(300).nullable(),
          detector: ZText.max(50).nullable(),
          strategy: z.enum(["redact", "partial", "hash", "null", "format_preserving"]),
          exemptIdentities: z.array(z.string()).default([]),
          exemptGroups: z.array(z.string()).default([]),
        }),
      )
      .max(50)
      .default([]),
  })
  .strict();
export type TPolicyPreviewInput = z.input<typeof ZPolicyPreviewInput>;

const ZRuleRef = z.object({
  action: z.enum(["allow", "block", "require_approval"]),
  ruleName: z.string().nullable(),
  message: z.string(),
});

export const ZPolicyPreview = z.object({
  connection: z.object({ id: z.string(), name: z.string(), environment: z.string() }),
  /** Set when the text does not parse; `decision` then says what production does with it. */
  parseError: z.string().nullable(),
  decision: ZRuleRef,
  statements: z.array(
    z.object({
      text: z.string(),
      command: z.string(),
      class: z.string(),
      tablesRead: z.array(z.string()),
      tablesWritten: z.array(z.string()),
      functions: z.array(z.string()),
      unboundedWrite: z.boolean(),
      destructive: z.boolean(),
      runsCode: z.boolean(),
      decision: ZRuleRef,
      masking: z.object({
        computedColumnsMasked: z.boolean(),
        reasons: z.array(z.string()),
        sensitiveColumns: z.array(z.string()),
        refusedBecause: z.string().nullable(),
      }),
    }),
  ),
});
export type TPolicyPreview = z.infer<typeof ZPolicyPreview>;

// ---- rule editing ---------------------------------------------------------------------------------------

const ZGuardrailActionInput = z.enum(["allow", "block", "require_approval"]);
const ZMaskingStrategy = z.enum(["redact", "partial", "hash", "null", "format_preserving"]);
const ZNameList = z.array(ZText.trim().min(1).max(320)).max(200);

export const ZConnectionRulesInput = z.object({ connectionId: z.uuid() }).strict();

/** Where a saved rule applies: one connection, or every connection of an environment (null: of all). */
export const ZRuleScopeInput = z.union([
  z.object({ connectionId: z.uuid() }).strict(),
  z.object({ environment: ZText.trim().min(1).max(100).nullable() }).strict(),
]);

export const ZGuardrailFields = z
  .object({
    name: ZText.trim().min(1).max(200),
    description: ZText.max(2000).default(""),
    priority: z.number().int().min(0).max(1_000_000),
    enabled: z.boolean().default(true),
    action: ZGuardrailActionInput,
    message: ZText.trim().min(1).max(1000),
    /** Validated against the policy engine's match schema by the service. */
    match: z.record(z.string(), z.unknown()),
    /**
     * require_approval only (reset otherwise): distinct approvers needed before the statement runs. Absent:
     * 1 for a new rule, unchanged for an edited one (a client that predates the field cannot weaken a rule).
     */
    requiredApprovals: z.number().int().min(1).max(5).optional(),
    /** require_approval only: approvers must be in this group (null: any approver). Absent as above. */
    approverGroup: ZText.trim().min(1).max(200).nullable().optional(),
  })
  .strict();

export const ZMaskingRuleFields = z
  .object({
    name: ZText.trim().min(1).max(200),
    /** `table.column` or `schema.table.column`; `*` matches any table or schema. */
    columnPattern: ZText.trim()
      .regex(/^([\w$*]+\.){1,2}[\w$*]+$/, "use table.column or schema.table.column (* matches any)")
      .nullable(),
    detector: ZText.trim().min(1).max(50).nullable(),
    strategy: ZMaskingStrategy,
    exemptIdentities: ZNameList.default([]),
    exemptGroups: ZNameList.default([]),
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((r) => (r.columnPattern === null) !== (r.detector === null), {
    message: "a masking rule targets either a column pattern or a detector",
  });

export const ZSaveGuardrailInput = z
  .object({ id: z.uuid().optional(), scope: ZRuleScopeInput, fields: ZGuardrailFields })
  .strict();
export type TSaveGuardrailInput = z.input<typeof ZSaveGuardrailInput>;

export const ZSaveMaskingRuleInput = z
  .object({ id: z.uuid().optional(), scope: ZRuleScopeInput, fields: ZMaskingRuleFields })
  .strict();
export type TSaveMaskingRuleInput = z.input<typeof ZSaveMaskingRuleInput>;

export const ZDeleteRuleInput = z.object({ id: z.uuid() }).strict();

const ZRuleScope = z.enum(["connection", "environment", "global"]);

export const ZGuardrailDto = z.object({
  id: z.string(),
  scope: ZRuleScope,
  /** The environment an environment-scoped rule belongs to (null for the other scopes). */
  environment: z.string().nullable(),
  name: z.string(),
  description: z.string(),
  priority: z.number().int(),
  enabled: z.boolean(),
  action: ZGuardrailActionInput,
  message: z.string(),
  match: z.record(z.string(), z.unknown()),
  requiredApprovals: z.number().int(),
  approverGroup: z.string().nullable(),
  updatedAt: z.date(),
});
export type TGuardrailDto = z.infer<typeof ZGuardrailDto>;

export const ZMaskingRuleDto = z.object({
  id: z.string(),
  scope: ZRuleScope,
  /** The environment an environment-scoped rule belongs to (null for the other scopes). */
  environment: z.string().nullable(),
  name: z.string(),
  columnPattern: z.string().nullable(),
  detector: z.string().nullable(),
  strategy: ZMaskingStrategy,
  exemptIdentities: z.array(z.string()),
  exemptGroups: z.array(z.string()),
  enabled: z.boolean(),
  updatedAt: z.date(),
});
export type TMaskingRuleDto = z.infer<typeof ZMaskingRuleDto>;

export const ZConnectionSummary = z.object({ id: z.string(), name: z.string(), environment: z.string() });
export const ZConnectionList = z.array(ZConnectionSummary);

export const ZConnectionRules = z.object({
  connection: ZConnectionSummary,
  guardrails: z.array(ZGuardrailDto),
  maskingRules: z.array(ZMaskingRuleDto),
});
export type TConnectionRules = z.infer<typeof ZConnectionRules>;

// ---- access simulator -----------------------------------------------------------------------------------

export const ZAccessSimulationInput = z
  .object({
    connectionId: z.uuid(),
    /** Risky statements to check; by default a destructive, an unbounded and a privilege statement. */
    statements: z.array(ZText.trim().min(1).max(10_000)).min(1).max(10).optional(),
  })
  .strict();

export const ZAccessSimulation = z.object({
  connection: ZConnectionSummary,
  statements: z.array(z.string()),
  identities: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["human", "service", "ai_agent"]),
      groups: z.array(z.string()),
      /** Valid tokens this identity can connect with, and when the earliest of them stops working. */
      tokens: z.number().int(),
      accessUntil: z.string().nullable(),
      maskedBy: z.array(z.string()),
      exemptFrom: z.array(z.string()),
      decisions: z.array(ZRuleRef),
    }),
  ),
});
export type TAccessSimulation = z.infer<typeof ZAccessSimulation>;

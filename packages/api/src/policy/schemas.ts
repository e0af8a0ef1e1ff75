import { z } from "zod";

export const ZPolicyPreviewInput = z
  .object({
    /** Connection name or id. */
    connection: z.string().min(1).max(200),
    sql: z.string().min(1).max(100_000),
    /** Who would run it: masking exemptions and identity rules depend on it. */
    identityName: z.string().max(320).default("preview@portcullis.local"),
    identityKind: z.enum(["human", "service", "ai_agent"]).default("human"),
    groups: z.array(z.string().max(200)).max(100).default([]),
    /** Rules being edited and not saved yet, evaluated together with the connection's stored ones. */
    draftGuardrails: z
      .array(
        z.object({
          name: z.string().min(1).max(200),
          priority: z.number().int(),
          action: z.enum(["allow", "block", "require_approval"]),
          message: z.string().max(1000),
          match: z.record(z.string(), z.unknown()),
        }),
      )
      .max(50)
      .default([]),
    draftMaskingRules: z
      .array(
        z.object({
          name: z.string().min(1).max(200),
          columnPattern: z.string().max(300).nullable(),
          detector: z.string().max(50).nullable(),
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

// Guardrails: ordered rules; the first whose criteria all hold decides. Every decision names its rule.
import { z } from "zod";
import { ADMIN_FUNCTIONS, type TStatementAnalysis } from "./analyze.ts";

export const ZStatementClass = z.enum([
  "read",
  "write",
  "ddl",
  "privilege",
  "admin",
  "transaction",
  "unknown",
]);

/** Criteria of a rule. Every present criterion must hold; lists match when any entry matches. */
export const ZGuardrailMatch = z
  .object({
    classes: z.array(ZStatementClass).optional(),
    /** Parse-tree node types anywhere in the statement, e.g. DropStmt, DoStmt. */
    commands: z.array(z.string()).optional(),
    /** Table names read or written; "*" suffix matches a prefix ("audit_*"). */
    tables: z.array(z.string()).optional(),
    functions: z.array(z.string()).optional(),
    /** Column names ("ssn") or table-qualified ("customers.ssn") the statement references. */
    columns: z.array(z.string()).optional(),
    runsCode: z.boolean().optional(),
    destructive: z.boolean().optional(),
    unboundedWrite: z.boolean().optional(),
    environments: z.array(z.string()).optional(),
    identities: z.array(z.string()).optional(),
    identityKinds: z.array(z.enum(["human", "service", "ai_agent"])).optional(),
    groups: z.array(z.string()).optional(),
  })
  .strict();
export type TGuardrailMatch = z.infer<typeof ZGuardrailMatch>;

export const ZGuardrailAction = z.enum(["allow", "block", "require_approval"]);
export type TGuardrailAction = z.infer<typeof ZGuardrailAction>;

export interface TGuardrail {
  id: string;
  name: string;
  priority: number;
  action: TGuardrailAction;
  message: string;
  match: unknown;
}

export interface TRequestContext {
  environment: string;
  identityName: string;
  identityKind: "human" | "service" | "ai_agent";
  groups: string[];
}

export interface TGuardrailDecision {
  action: TGuardrailAction;
  ruleId: string;
  ruleName: string;
  message: string;
}

export const DEFAULT_ALLOW: TGuardrailDecision = {
  action: "allow",
  ruleId: "default-allow",
  ruleName: "Default: allow",
  message: "",
};

const PRODUCTION = new Set(["production", "prod"]);

function tableMatches(pattern: string, table: string): boolean {
  const bare = table.includes(".") ? table.slice(table.lastIndexOf(".") + 1) : table;
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    return table.startsWith(prefix) || bare.startsWith(prefix);
  }
  return pattern === table || pattern === bare;
}

function matches(match: TGuardrailMatch, s: TStatementAnalysis, ctx: TRequestContext): boolean {
  if (match.classes && !match.classes.includes(s.class)) return false;
  if (match.commands && !match.commands.some((c) => c === s.command || s.nestedCommands.includes(c)))
    return false;
  if (match.tables) {
    const touched = [...s.tablesRead, ...s.tablesWritten];
    if (!match.tables.some((p) => touched.some((t) => tableMatches(p, t)))) return false;
  }
  if (
    match.functions &&
    !match.functions.some((f) => s.functions.includes(f) || s.functions.some((g) => g.endsWith(`.${f}`)))
  )
    return false;
  if (match.columns) {
    const referenced = s.columnRefs.map((c) => c.column);
    const wanted = match.columns.map((c) => c.toLowerCase());
    const hit = wanted.some((w) => {
      const [table, column] = w.includes(".")
        ? [w.slice(0, w.lastIndexOf(".")), w.slice(w.lastIndexOf(".") + 1)]
        : [null, w];
      if (!referenced.includes(column)) return false;
      return table === null || [...s.tablesRead, ...s.tablesWritten].some((t) => tableMatches(table, t));
    });
    if (!hit) return false;
  }
  if (match.runsCode !== undefined && match.runsCode !== s.runsCode) return false;
  if (match.destructive !== undefined && match.destructive !== s.destructive) return false;
  if (match.unboundedWrite !== undefined && match.unboundedWrite !== s.unboundedWrite) return false;
  if (match.environments && !match.environments.includes(ctx.environment)) return false;
  if (match.identities && !match.identities.includes(ctx.identityName)) return false;
  if (match.identityKinds && !match.identityKinds.includes(ctx.identityKind)) return false;
  if (match.groups && !match.groups.some((g) => ctx.groups.includes(g))) return false;
  return true;
}

/** A rule with its criteria validated once (per policy update), not once per statement. */
export interface TCompiledGuardrail extends Omit<TGuardrail, "match"> {
  match: TGuardrailMatch | null;
}

/** Validates and orders rules by priority. A rule whose criteria do not validate keeps `match: null`. */
export function compileGuardrails(rules: readonly TGuardrail[]): TCompiledGuardrail[] {
  return [...rules]
    .sort((a, b) => a.priority - b.priority)
    .map((rule) => {
      const parsed = ZGuardrailMatch.safeParse(rule.match);
      return { ...rule, match: parsed.success ? parsed.data : null };
    });
}

/** Built in, in every environment: with standard_conforming_strings off, text this engine reads as a
 * string literal can be a statement to the server (`'\' ...'` quoting), which would void every rule. */
const QUOTING_BLOCK: TGuardrailDecision = {
  action: "block",
  ruleId: "builtin-standard-conforming-strings",
  ruleName: "standard_conforming_strings stays on",
  message:
    "Turning standard_conforming_strings off is not allowed through Portcullis: it changes how the server reads string literals; use E'...' strings for backslash escapes",
};

const ENCODING_BLOCK: TGuardrailDecision = {
  action: "block",
  ruleId: "builtin-client-encoding",
  ruleName: "client_encoding the agent can read",
  message:
    "Switching client_encoding to SJIS, BIG5, GBK, UHC, GB18030 or JOHAB is not allowed through Portcullis: their characters can hold a backslash or quote byte, so the server would read statements differently from the guardrails; use UTF8",
};

/**
 * Decides one analysed statement against compiled rules. A rule whose criteria did not validate cannot be
 * trusted to match what its author meant: in production it blocks (fail closed).
 */
export function evaluateGuardrails(
  s: TStatementAnalysis,
  ctx: TRequestContext,
  rules: readonly TCompiledGuardrail[],
): TGuardrailDecision {
  if (s.changesQuoting) return QUOTING_BLOCK;
  if (s.changesEncoding) return ENCODING_BLOCK;
  for (const rule of rules) {
    if (rule.match === null) {
      if (PRODUCTION.has(ctx.environment)) {
        return {
          action: "block",
          ruleId: rule.id,
          ruleName: rule.name,
          message: `Guardrail "${rule.name}" is invalid; blocking in production`,
        };
      }
      continue;
    }
    if (matches(rule.match, s, ctx))
      return { action: rule.action, ruleId: rule.id, ruleName: rule.name, message: rule.message };
  }
  return DEFAULT_ALLOW;
}

/** The rule id of decideUnparseable's refusal: the agent answers it with a syntax error's SQLSTATE. */
export const UNPARSEABLE_RULE_ID = "builtin-unparseable";

/** What to do with text the parser rejects: block in production (fail closed), elsewhere let Postgres report it. */
export function decideUnparseable(ctx: TRequestContext, parseError: string): TGuardrailDecision {
  if (PRODUCTION.has(ctx.environment)) {
    return {
      action: "block",
      ruleId: UNPARSEABLE_RULE_ID,
      ruleName: "Unparseable statements are blocked in production",
      message: `Statement could not be parsed (${parseError}); blocked in production`,
    };
  }
  return { ...DEFAULT_ALLOW, message: parseError };
}

/** The baseline a new production connection starts with. Lower priority numbers run first. */
export const PRODUCTION_BASELINE: readonly Omit<TGuardrail, "id">[] = [
  {
    name: "Block destructive DDL",
    priority: 10,
    action: "block",
    message: "Destructive DDL (DROP, TRUNCATE) is blocked in production",
    match: { destructive: true },
  },
  {
    name: "Block privilege changes",
    priority: 20,
    action: "block",
    message: "Privilege changes are blocked in production; use the access workflow",
    match: { classes: ["privilege"] },
  },
  {
    name: "Schema changes need approval",
    priority: 30,
    action: "require_approval",
    message: "Schema changes in production need an approval",
    match: { classes: ["ddl"] },
  },
  {
    name: "Unbounded writes need approval",
    priority: 40,
    action: "require_approval",
    message: "UPDATE or DELETE without a WHERE clause needs an approval",
    match: { unboundedWrite: true },
  },
  {
    name: "Server administration functions are blocked",
    priority: 15,
    action: "block",
    message:
      "Server administration functions (terminating backends, reloading configuration, reading server files) are blocked in production",
    match: { functions: [...ADMIN_FUNCTIONS] },
  },
  {
    name: "Code execution needs approval",
    priority: 50,
    action: "require_approval",
    message:
      "DO blocks, functions, triggers, rules, CALL and COPY ... PROGRAM run code whose effects are not visible here; they need an approval",
    match: { runsCode: true },
  },
];

// Audit fails closed: a statement runs only if the spool has room for its audit event. The room is judged per
// client message, before anything of it runs: one query string may hold thousands of statements.
import type { TVerdict } from "../proxy/types.ts";

/** Share of the spool statements may fill; the rest is for events that come without a decision (session ends). */
export const SPOOL_STATEMENT_SHARE = 0.9;

/** Most of a statement's text an event carries (see statementForEvent), and a bound on the rest of an event. */
const EVENT_TEXT_CHARS = 100_000;
const EVENT_FIELDS_BYTES = 4096;

/**
 * The most the events of a decision's statements take in the spool: each carries its statement's text (JSON
 * escapes a character in at most 6 bytes) and its other fields.
 */
export function auditBytesFor(verdict: TVerdict): number {
  let bytes = EVENT_FIELDS_BYTES;
  for (const statement of verdict.statements)
    bytes += Math.min(statement.text.length, EVENT_TEXT_CHARS) * 6 + EVENT_FIELDS_BYTES;
  return bytes;
}

/**
 * The verdict, or a refusal when the spool could not take the events it leads to (a refusal too records one
 * event per statement); that refusal names no statement, so it is recorded as one small event.
 */
export function withAuditRoom(verdict: TVerdict, spoolBytes: number, spoolMaxBytes: number): TVerdict {
  if (spoolBytes + auditBytesFor(verdict) <= spoolMaxBytes * SPOOL_STATEMENT_SHARE) return verdict;
  return {
    action: "block",
    ruleId: "builtin-audit-spool-full",
    ruleName: "Audit spool full",
    message:
      spoolBytes >= spoolMaxBytes * SPOOL_STATEMENT_SHARE
        ? "the agent cannot record more audit events until the control plane is reachable again"
        : "the agent's audit spool has no room for the events of this many statements until the control plane catches up; send fewer at a time",
    statements: [],
    offendingIndex: -1,
    masking: [],
  };
}

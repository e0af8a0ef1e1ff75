// Audit fails closed: a statement runs only if the spool has room for its audit event. The session judges the
// room for each statement text (a query string may hold thousands of statements) and each Bind, counting the
// events of its statements still under way, before anything of them runs.
import type { TVerdict } from "./types.ts";

/** Share of the spool statements may fill; the rest is for events that come without a decision (session ends). */
export const SPOOL_STATEMENT_SHARE = 0.9;

/** Most of a statement's text an event carries (see statementForEvent), and a bound on the rest of an event. */
const EVENT_TEXT_CHARS = 100_000;
const EVENT_FIELDS_BYTES = 4096;

/** The most one statement's event takes in the spool: its text (JSON escapes a character in at most 6 bytes) and
 * its other fields. */
export function auditBytesOfStatement(textLength: number): number {
  return Math.min(textLength, EVENT_TEXT_CHARS) * 6 + EVENT_FIELDS_BYTES;
}

/** The most the events of a decision's statements take in the spool. */
export function auditBytesFor(verdict: TVerdict): number {
  let bytes = EVENT_FIELDS_BYTES;
  for (const statement of verdict.statements) bytes += auditBytesOfStatement(statement.text.length);
  return bytes;
}

/**
 * What the spool refuses statements with: it has no room for their events (the control plane has been away
 * long, or a client sends too many at once). It names no statement, so it is recorded as one small event.
 */
export const SPOOL_FULL_VERDICT: TVerdict = {
  action: "block",
  ruleId: "builtin-audit-spool-full",
  ruleName: "Audit spool full",
  message:
    "the agent's audit spool has no room for the events of these statements until the control plane catches up (if it is reachable, send fewer statements at a time)",
  statements: [],
  offendingIndex: -1,
  masking: [],
};

/** Whether a spool holding `spoolBytes` of at most `spoolMaxBytes` can take `bytes` more of statements' events. */
export function spoolHasRoom(bytes: number, spoolBytes: number, spoolMaxBytes: number): boolean {
  return spoolBytes + bytes <= spoolMaxBytes * SPOOL_STATEMENT_SHARE;
}

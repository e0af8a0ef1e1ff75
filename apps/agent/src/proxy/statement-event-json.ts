import type { TAuditEvent } from "@portcullis/agent-protocol";

/**
 * The JSON of a statement's audit event, the same string as `JSON.stringify(event)` (same keys, same order),
 * built from parts serialised once: the session's fields once per session, the statement's text, fingerprint
 * and class once per analysis, each array once. Why: serialising every event whole was the agent's largest
 * cost per statement after its socket writes (a third of its user CPU under pgbench -S went to the audit
 * event), and most of an event repeats the one before.
 *
 * Relies on what the session puts in an event: `id` a UUID, `occurredAt` an ISO timestamp, `type` and
 * `decision` enum words: none needs escaping. Everything else goes through JSON.stringify.
 */

const SESSION_KEYS = [
  "actorId",
  "actorName",
  "actorKind",
  "connectionId",
  "connectionName",
  "environment",
  "sessionId",
  "clientAddr",
  "applicationName",
] as const satisfies readonly (keyof TAuditEvent)[];

type TSessionFields = Pick<TAuditEvent, (typeof SESSION_KEYS)[number]>;

/** `,"actorId":…,…,"applicationName":…`: the fields every event of one session shares. */
export function sessionFieldsJson(fields: TSessionFields): string {
  let json = "";
  for (const key of SESSION_KEYS) json += `,"${key}":${JSON.stringify(fields[key])}`;
  return json;
}

type TStatementFields = Pick<TAuditEvent, "statement" | "fingerprint" | "statementClass">;

const statementParts = new WeakMap<object, TStatementFields & { json: string }>();
const arrayParts = new WeakMap<readonly string[], string>();

function statementJson(event: TStatementFields, key: object | null): string {
  const cached = key ? statementParts.get(key) : undefined;
  if (
    cached &&
    cached.statement === event.statement &&
    cached.fingerprint === event.fingerprint &&
    cached.statementClass === event.statementClass
  )
    return cached.json;
  const json =
    `,"statement":${JSON.stringify(event.statement)}` +
    `,"fingerprint":${stringJson(event.fingerprint)}` +
    `,"statementClass":${stringJson(event.statementClass)}`;
  if (key)
    statementParts.set(key, {
      statement: event.statement,
      fingerprint: event.fingerprint,
      statementClass: event.statementClass,
      json,
    });
  return json;
}

/** Arrays are cached by identity only when frozen: a cached string must not outlive a change to its array. */
function arrayJson(values: readonly string[]): string {
  if (values.length === 0) return "[]";
  if (!Object.isFrozen(values)) return JSON.stringify(values);
  let json = arrayParts.get(values);
  if (json === undefined) {
    json = JSON.stringify(values);
    arrayParts.set(values, json);
  }
  return json;
}

// As JSON.stringify gives them, without its call for the common cases (each costs ~100 ns, as much as the rest).
const numberJson = (n: number | null) => (n !== null && Number.isFinite(n) ? String(n) : "null");
const stringParts = new Map<string, string>();
function stringJson(s: string | null): string {
  if (s === null) return "null";
  let json = stringParts.get(s);
  if (json === undefined) {
    json = JSON.stringify(s);
    // Rule ids and names repeat from event to event; keep a bounded set of short strings.
    if (s.length <= 256) {
      if (stringParts.size >= 1024) stringParts.clear();
      stringParts.set(s, json);
    }
  }
  return json;
}

/**
 * `sessionJson` comes from sessionFieldsJson() for this event's session fields; `statementKey` is an object
 * that stands for this statement's text, fingerprint and class (its analysis), or null.
 */
export function statementEventJson(
  event: TAuditEvent,
  sessionJson: string,
  statementKey: object | null,
): string {
  return (
    `{"id":"${event.id}","type":"${event.type}","occurredAt":"${event.occurredAt}"` +
    sessionJson +
    statementJson(event, statementKey) +
    `,"decision":"${event.decision}"` +
    `,"ruleId":${stringJson(event.ruleId)}` +
    `,"ruleName":${stringJson(event.ruleName)}` +
    `,"message":${stringJson(event.message)}` +
    `,"tables":${arrayJson(event.tables)}` +
    `,"columns":${arrayJson(event.columns)}` +
    `,"maskedColumns":${arrayJson(event.maskedColumns)}` +
    `,"rowCount":${numberJson(event.rowCount)}` +
    `,"durationMs":${numberJson(event.durationMs)}` +
    `,"error":${stringJson(event.error)}}`
  );
}

let isoSecond = Number.NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()`, reusing the text up to the seconds while they do not change. Why: formatting
 * a Date cost about 2 µs per statement, more than the rest of the event.
 */
export function isoTimestamp(ms: number): string {
  if (!Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(ms).toISOString();
    // Only the common shape (four-digit year): others are rare enough to format each time.
    if (iso.length !== 24) return iso;
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
    return iso;
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

// What an audit stream sends: newline-delimited JSON, one event per line, either as the REST API returns it
// (jsonl) or mapped onto OCSF 1.3.0's Datastore Activity class (ocsf), which SIEMs such as Amazon Security
// Lake, Splunk and Sentinel ingest as is. Pure: events in, body out.
import type { TAuditEventDto } from "../audit/schemas.ts";

export const OCSF_VERSION = "1.3.0";
/** The workspace's version (every package.json), as the agent reports its own. */
const PRODUCT_VERSION = "0.1.0";
const DATASTORE_ACTIVITY = 6005;

// OCSF Datastore Activity activity_id. A statement class maps onto the closest; control-plane events (admin
// changes, approvals, grants) are Other with their own name.
const ACTIVITY = {
  read: [4, "Query"],
  write: [5, "Write"],
  ddl: [99, "Schema Change"],
  privilege: [99, "Privilege Change"],
  admin: [99, "Administration"],
  transaction: [99, "Transaction Control"],
} as const satisfies Record<string, readonly [number, string]>;

function activityOf(event: TAuditEventDto): readonly [number, string] {
  switch (event.type) {
    case "session_start":
    case "auth_failure":
      return [3, "Connect"];
    case "session_end":
      return [99, "Disconnect"];
    case "statement":
      return ACTIVITY[event.statementClass as keyof typeof ACTIVITY] ?? [99, "Statement"];
    case "admin_change":
      return [99, "Admin Change"];
    case "approval":
      return [99, "Approval"];
    case "grant":
      return [99, "Grant"];
    default:
      return [99, event.type];
  }
}

// A refusal is what a SOC looks for first: blocked and denied statements and failed logins are Medium.
function severityOf(event: TAuditEventDto): readonly [number, string] {
  if (event.type === "auth_failure" || event.decision === "blocked" || event.decision === "denied")
    return [3, "Medium"];
  if (event.decision === "error") return [2, "Low"];
  return [1, "Informational"];
}

function statusOf(event: TAuditEventDto): readonly [number, string] {
  if (event.decision === "pending_approval") return [0, "Unknown"];
  if (
    event.type === "auth_failure" ||
    event.decision === "blocked" ||
    event.decision === "denied" ||
    event.decision === "error"
  )
    return [2, "Failure"];
  return [1, "Success"];
}

// OCSF user type_id: 1 User, 99 Other (services and AI agents, named in `type`).
const USER_TYPE = { human: [1, "User"], service: [99, "Service"], ai_agent: [99, "AI Agent"] } as const;

export function toOcsfEvent(event: TAuditEventDto) {
  const [activityId, activityName] = activityOf(event);
  const [severityId, severity] = severityOf(event);
  const [statusId, status] = statusOf(event);
  const [userTypeId, userType] = USER_TYPE[event.actorKind as keyof typeof USER_TYPE] ?? [0, "Unknown"];
  return {
    category_uid: 6,
    category_name: "Application Activity",
    class_uid: DATASTORE_ACTIVITY,
    class_name: "Datastore Activity",
    activity_id: activityId,
    activity_name: activityName,
    type_uid: DATASTORE_ACTIVITY * 100 + activityId,
    type_name: `Datastore Activity: ${activityName}`,
    time: Date.parse(event.occurredAt),
    severity_id: severityId,
    severity,
    status_id: statusId,
    status,
    ...(event.error ? { status_detail: event.error } : {}),
    message: event.message ?? event.error ?? `${event.type} ${event.decision}`,
    metadata: {
      version: OCSF_VERSION,
      uid: event.id,
      sequence: Number(event.seq),
      log_name: "audit",
      product: { name: "Portcullis", vendor_name: "Portcullis", version: PRODUCT_VERSION },
      ...(event.sessionId ? { correlation_uid: event.sessionId } : {}),
    },
    actor: {
      user: {
        name: event.actorName,
        ...(event.actorId ? { uid: event.actorId } : {}),
        type_id: userTypeId,
        type: userType,
      },
      ...(event.sessionId ? { session: { uid: event.sessionId } } : {}),
      ...(event.applicationName ? { app_name: event.applicationName } : {}),
    },
    src_endpoint: event.clientAddr ? { ip: event.clientAddr } : {},
    ...(event.connectionName
      ? {
          database: {
            name: event.connectionName,
            ...(event.connectionId ? { uid: event.connectionId } : {}),
            type: "PostgreSQL",
          },
        }
      : {}),
    ...(event.tables[0] ? { table: { name: event.tables[0] } } : {}),
    ...(event.statement
      ? {
          query_info: {
            query_string: event.statement,
            ...(event.fingerprint ? { uid: event.fingerprint } : {}),
          },
        }
      : {}),
    // What OCSF has no attribute for, under its own names.
    unmapped: {
      event_type: event.type,
      decision: event.decision,
      environment: event.environment,
      statement_class: event.statementClass,
      rule: event.ruleId || event.ruleName ? { id: event.ruleId, name: event.ruleName } : null,
      tables: event.tables,
      columns: event.columns,
      masked_columns: event.maskedColumns,
      row_count: event.rowCount,
      duration_ms: event.durationMs,
      agent_id: event.agentId,
      details: event.details,
      hash: event.hash,
    },
  };
}

/** One event as a line of newline-delimited JSON (application/x-ndjson), newline included. */
export function streamLine(event: TAuditEventDto, format: "jsonl" | "ocsf"): string {
  return `${JSON.stringify(format === "ocsf" ? toOcsfEvent(event) : event)}\n`;
}

export function streamBody(events: TAuditEventDto[], format: "jsonl" | "ocsf"): string {
  return events.map((event) => streamLine(event, format)).join("");
}

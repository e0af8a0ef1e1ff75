// GET /api/v1/audit-events: flat query parameters onto the same service the dashboard uses.
import type { TDb } from "@portcullis/db";
import { z } from "zod";
import { requireRoles, resolveCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { searchParamsToObject } from "../rest.ts";
import { csvCell } from "./csv-cell.ts";
import { ZAuditEventQuery, type TAuditChainVerification, type TAuditEventPage } from "./schemas.ts";
import { auditService } from "./service.ts";

export async function listAuditEventsRest(db: TDb, request: Request): Promise<TAuditEventPage> {
  // The public API is for automation: bearer tokens only, never the browser's cookie.
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "auditor",
    "admin",
  ]);
  const query = ZAuditEventQuery.safeParse(searchParamsToObject(new URL(request.url).searchParams));
  if (!query.success) throw new AppError("BAD_REQUEST", z.prettifyError(query.error), { cause: query.error });
  const { limit, cursor, ...filter } = query.data;
  return auditService.list(db, { filter, limit, cursor }, caller);
}

/**
 * GET /api/v1/audit-events/verify[?anchor=<seq>:<hash>...]: recomputes the hash chain and reports the first
 * broken link, and the head to keep as an anchor for the next verification.
 */
export async function verifyAuditChainRest(db: TDb, request: Request): Promise<TAuditChainVerification> {
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "auditor",
    "admin",
  ]);
  const anchors = new URL(request.url).searchParams.getAll("anchor").map((anchor) => {
    const [seq = "", hash = ""] = anchor.split(":");
    return { seq, hash };
  });
  return auditService.verifyChain(db, caller, { anchors });
}

const EXPORT_MAX_EVENTS = 100_000;
const EXPORT_PAGE = 500;
const CSV_COLUMNS = [
  "occurredAt",
  "type",
  "actorName",
  "actorKind",
  "connectionName",
  "environment",
  "sessionId",
  "clientAddr",
  "applicationName",
  "statement",
  "statementClass",
  "decision",
  "ruleName",
  "message",
  "tables",
  "columns",
  "maskedColumns",
  "rowCount",
  "durationMs",
  "error",
  "seq",
  "hash",
] as const;

/**
 * GET /api/v1/audit-events/export?format=csv|jsonl plus the list's filters: every matching event, newest
 * first, streamed page by page (at most 100,000 per request; narrow the time range for more).
 */
export async function exportAuditEventsRest(db: TDb, request: Request): Promise<Response> {
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "auditor",
    "admin",
  ]);
  const params = searchParamsToObject(new URL(request.url).searchParams);
  const format = params.format ?? "jsonl";
  if (format !== "csv" && format !== "jsonl")
    throw new AppError("BAD_REQUEST", "format must be csv or jsonl");
  delete params.format;
  const query = ZAuditEventQuery.safeParse(params);
  if (!query.success) throw new AppError("BAD_REQUEST", z.prettifyError(query.error), { cause: query.error });
  const { limit: _limit, cursor: _cursor, ...filter } = query.data;
  // Validates the filter (and the scope) before the response starts.
  let page = await auditService.list(db, { filter, limit: EXPORT_PAGE }, caller);
  const encoder = new TextEncoder();
  let sent = 0;
  let headerSent = format !== "csv";
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = "";
      if (!headerSent) {
        chunk += `${CSV_COLUMNS.join(",")}\n`;
        headerSent = true;
      }
      for (const event of page.items) {
        if (sent >= EXPORT_MAX_EVENTS) break;
        sent += 1;
        chunk +=
          format === "csv"
            ? `${CSV_COLUMNS.map((c) => csvCell(event[c])).join(",")}\n`
            : `${JSON.stringify(event)}\n`;
      }
      if (chunk) controller.enqueue(encoder.encode(chunk));
      if (!page.nextCursor || sent >= EXPORT_MAX_EVENTS) {
        controller.close();
        return;
      }
      page = await auditService.list(db, { filter, limit: EXPORT_PAGE, cursor: page.nextCursor }, caller);
    },
  });
  const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
  return new Response(stream, {
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="portcullis-audit-${stamp}.${format}"`,
      "cache-control": "no-store",
    },
  });
}

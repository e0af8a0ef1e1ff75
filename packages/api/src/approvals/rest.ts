// Public API v1 for approvals: GET /api/v1/approvals?status=pending, POST /api/v1/approvals/{id}/approve|deny.
import type { TDb } from "@portcullis/db";
import { z } from "zod";
import { requireRoles, resolveCaller } from "../auth.ts";
import { readJsonObject, searchParamsToObject } from "../rest.ts";
import { accessRequestService } from "./access-service.ts";
import { approvalService } from "./service.ts";

const ZQuery = z.record(z.string(), z.string());

export const approvalsRest = {
  async list(db: TDb, request: Request) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "approver",
      "admin",
      "auditor",
    ]);
    return approvalService.list(
      db,
      caller,
      ZQuery.parse(searchParamsToObject(new URL(request.url).searchParams)),
    );
  },
  async decide(db: TDb, request: Request, id: string, approve: boolean) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "approver",
      "admin",
    ]);
    const input = { ...(await readJsonObject(request, { optional: true })), id };
    return approve ? approvalService.approve(db, caller, input) : approvalService.deny(db, caller, input);
  },
  async createAccessRequest(db: TDb, request: Request) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), []);
    return accessRequestService.create(db, caller, await readJsonObject(request, { optional: true }));
  },
  async listAccessRequests(db: TDb, request: Request) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "approver",
      "admin",
      "auditor",
    ]);
    return accessRequestService.list(
      db,
      caller,
      ZQuery.parse(searchParamsToObject(new URL(request.url).searchParams)),
    );
  },
  async decideAccessRequest(db: TDb, request: Request, id: string, approve: boolean) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "approver",
      "admin",
    ]);
    return accessRequestService.decide(
      db,
      caller,
      { ...(await readJsonObject(request, { optional: true })), id },
      approve,
    );
  },
};

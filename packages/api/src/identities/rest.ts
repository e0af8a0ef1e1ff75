// Public API v1 for identities, tokens and grants: bearer API tokens only, the same service as the dashboard.
import type { TDb } from "@portcullis/db";
import { requireRoles, resolveCaller, type TCaller, type TRole } from "../auth.ts";
import { connectionService } from "../connections/service.ts";
import { policyRulesService } from "../policy/rules-service.ts";
import { readJsonObject } from "../rest.ts";
import { identityService } from "./service.ts";

async function automationCaller(db: TDb, request: Request, roles: TRole[]): Promise<TCaller> {
  return requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), roles);
}

export const identitiesRest = {
  async list(db: TDb, request: Request) {
    const caller = await automationCaller(db, request, ["admin", "auditor"]);
    return { items: await identityService.list(db, caller) };
  },
  async create(db: TDb, request: Request) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.create(db, caller, await readJsonObject(request));
  },
  async setActive(db: TDb, request: Request, identityId: string, active: boolean) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.setActive(db, caller, { identityId, active });
  },
  async createToken(db: TDb, request: Request, identityId: string) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.createToken(db, caller, { ...(await readJsonObject(request)), identityId });
  },
  async revokeToken(db: TDb, request: Request, tokenId: string) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.revokeToken(db, caller, { tokenId });
  },
  async connections(db: TDb, request: Request) {
    const caller = await automationCaller(db, request, ["admin", "auditor", "approver"]);
    return { items: await policyRulesService.listConnections(db, caller) };
  },
  async revokeGrant(db: TDb, request: Request, grantId: string) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.revokeGrant(db, caller, { grantId });
  },
  /** A short-lived database credential of the caller's own (any role; needs a grant to the connection). */
  async databaseCredential(db: TDb, request: Request, connectionId: string, secretKey: Buffer) {
    const caller = await automationCaller(db, request, []);
    const body = await readJsonObject(request, { optional: true });
    return connectionService.credential(db, caller, secretKey, { ...body, connectionId });
  },
  async grants(db: TDb, request: Request) {
    const caller = await automationCaller(db, request, ["admin", "auditor"]);
    return { items: await identityService.activeGrants(db, caller) };
  },
  async grant(db: TDb, request: Request) {
    const caller = await automationCaller(db, request, ["admin"]);
    return identityService.grant(db, caller, await readJsonObject(request));
  },
};

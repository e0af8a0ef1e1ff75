// Public API v1 for audit streams (admins, bearer API tokens only): the same service as the dashboard, so a
// deployment can configure its SIEM feed from code and a monitor can alert on a failing stream.
import type { TDb } from "@portcullis/db";
import { requireRoles, resolveCaller, type TCaller } from "../auth.ts";
import { readJsonObject } from "../rest.ts";
import { auditStreamService } from "./service.ts";

async function adminCaller(db: TDb, request: Request): Promise<TCaller> {
  return requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), ["admin"]);
}

export const auditStreamsRest = {
  async list(db: TDb, request: Request) {
    const caller = await adminCaller(db, request);
    return { items: await auditStreamService.list(db, caller) };
  },
  async create(db: TDb, request: Request, secretKey: Buffer, allowedHosts?: string[]) {
    const caller = await adminCaller(db, request);
    return auditStreamService.create(db, caller, secretKey, await readJsonObject(request), { allowedHosts });
  },
  async setEnabled(db: TDb, request: Request, id: string, enabled: boolean) {
    const caller = await adminCaller(db, request);
    return auditStreamService.setEnabled(db, caller, { id, enabled });
  },
  async remove(db: TDb, request: Request, id: string) {
    const caller = await adminCaller(db, request);
    await auditStreamService.remove(db, caller, { id });
    return { deleted: true };
  },
};

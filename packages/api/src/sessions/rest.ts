// Public API v1 for live sessions: bearer API tokens, the same service as the dashboard.
import type { TDb } from "@portcullis/db";
import { requireRoles, resolveCaller } from "../auth.ts";
import { readJsonObject } from "../rest.ts";
import { sessionService } from "./service.ts";

export const sessionsRest = {
  async live(db: TDb, request: Request) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "admin",
      "auditor",
    ]);
    return { items: await sessionService.listLive(db, caller) };
  },
  async end(db: TDb, request: Request, sessionId: string) {
    const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
      "admin",
    ]);
    const body = await readJsonObject(request, { optional: true });
    return sessionService.end(db, caller, { ...body, sessionId });
  },
};

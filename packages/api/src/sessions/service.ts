// Live client sessions (admins and auditors see them; admins end them). Transport-free; failures are AppErrors.
import { endSession, listLiveSessions, NotFoundError, type TDb, type TLiveSessionRow } from "@portcullis/db";
import { connectionScopeOf, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import { ZEndSessionInput, ZLiveSessionDto, ZLiveSessionList, type TLiveSessionDto } from "./schemas.ts";

function toLiveSessionDto(row: TLiveSessionRow): TLiveSessionDto {
  return {
    sessionId: row.sessionId,
    startedAt: row.startedAt.toISOString(),
    identity: { name: row.actorName, kind: row.actorKind },
    connection: { id: row.connectionId, name: row.connectionName, environment: row.environment },
    agentId: row.agentId,
    clientAddr: row.clientAddr,
    applicationName: row.applicationName,
  };
}

/** A token scoped to connections sees and ends only their sessions. */

export const sessionService = {
  async listLive(db: TDb, caller: TCaller): Promise<TLiveSessionDto[]> {
    const rows = await listLiveSessions(db, { connectionIds: connectionScopeOf(caller) });
    return parseOutput(ZLiveSessionList, rows.map(toLiveSessionDto), "Live sessions");
  },

  async end(db: TDb, caller: TCaller, rawInput: unknown): Promise<TLiveSessionDto> {
    const input = parseInput(ZEndSessionInput, rawInput);
    const scope = connectionScopeOf(caller);
    try {
      // A session on a connection the token does not cover is as unknown to it as one that does not exist.
      const row = await endSession(db, caller.identity, input, (session) => {
        if (scope && !scope.includes(session.connectionId)) throw new NotFoundError("live session");
      });
      return parseOutput(ZLiveSessionDto, toLiveSessionDto(row), "Live session");
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new AppError("NOT_FOUND", "No such live session (it may have ended already)");
      throw error;
    }
  },
};

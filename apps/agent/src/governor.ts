// Enforces the latest policy snapshot: who may connect to which connection, and what each statement may do.
// Everything here is in memory and synchronous, so the hot path never waits on the control plane, and the
// agent keeps enforcing its last policy while the control plane is unreachable.
import { createHash, timingSafeEqual } from "node:crypto";
import type { TConnectionPolicy, TPolicySnapshot } from "@portcullis/agent-protocol";
import {
  AnalysisCache,
  compileGuardrails,
  decideUnparseable,
  evaluateGuardrails,
  type TCompiledGuardrail,
  type TRequestContext,
  type TStatementAnalysis,
} from "@portcullis/policy";
import type { TAuthOutcome, TSessionInfo, TVerdict } from "./proxy/types.ts";

export class Governor {
  private connections = new Map<string, TConnectionPolicy>();
  private rulesByConnection = new Map<string, TCompiledGuardrail[]>();
  private readonly cache = new AnalysisCache();
  revision = -1;

  update(snapshot: TPolicySnapshot): void {
    this.connections = new Map(snapshot.connections.map((c) => [c.name, c]));
    this.rulesByConnection = new Map(
      snapshot.connections.map((c) => [c.id, compileGuardrails(c.guardrails)]),
    );
    this.revision = snapshot.revision;
  }

  get hasPolicy(): boolean {
    return this.revision >= 0;
  }

  authenticate(
    request: { user: string; database: string; password: string },
    now = Date.now(),
  ): TAuthOutcome {
    // One message for every refusal, so a client cannot probe which identities or databases exist.
    const refused: TAuthOutcome = {
      ok: false,
      code: "28P01",
      message: `password authentication failed for user "${request.user}": the token is invalid or expired, or the identity has no access to "${request.database}"`,
    };
    if (!this.hasPolicy)
      return {
        ok: false,
        code: "57P03",
        message: "the Portcullis agent has not received its policy yet; try again shortly",
      };
    const connection = this.connections.get(request.database);
    if (!connection) return refused;
    const presented = Buffer.from(createHash("sha256").update(request.password).digest("hex"));
    for (const credential of connection.credentials) {
      if (credential.identityName !== request.user) continue;
      const stored = Buffer.from(credential.tokenHash);
      if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) continue;
      if (credential.expiresAt && Date.parse(credential.expiresAt) <= now) return refused;
      return {
        ok: true,
        identity: {
          identityId: credential.identityId,
          identityName: credential.identityName,
          identityKind: credential.identityKind,
          groups: credential.groups,
        },
        connection: { id: connection.id, name: connection.name, environment: connection.environment },
        upstream: { ...connection.upstream },
      };
    }
    return refused;
  }

  /** True while the identity still holds some unexpired credential for the connection. */
  stillAuthorized(info: TSessionInfo, now = Date.now()): boolean {
    const connection = this.connections.get(info.connectionName);
    if (!connection || connection.id !== info.connectionId) return false;
    return connection.credentials.some(
      (c) => c.identityId === info.identityId && (!c.expiresAt || Date.parse(c.expiresAt) > now),
    );
  }

  decide(session: TSessionInfo, sql: string): TVerdict {
    const ctx: TRequestContext = {
      environment: session.environment,
      identityName: session.identityName,
      identityKind: session.identityKind,
      groups: session.groups,
    };
    const analysis = this.cache.analyze(sql);
    if (!analysis.ok) {
      const decision = decideUnparseable(ctx, analysis.error);
      return {
        ...decision,
        statements: [unparsed(sql)],
        offendingIndex: decision.action === "allow" ? -1 : 0,
      };
    }
    const rules = this.rulesByConnection.get(session.connectionId) ?? [];
    let allow: TVerdict | null = null;
    for (let i = 0; i < analysis.statements.length; i++) {
      const decision = evaluateGuardrails(analysis.statements[i]!, ctx, rules);
      if (decision.action !== "allow")
        return { ...decision, statements: analysis.statements, offendingIndex: i };
      allow ??= { ...decision, statements: analysis.statements, offendingIndex: -1 };
    }
    // An empty query string ("" or ";") has no statements: Postgres answers it with EmptyQueryResponse.
    return (
      allow ?? {
        action: "allow",
        ruleId: null,
        ruleName: null,
        message: "",
        statements: [],
        offendingIndex: -1,
      }
    );
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }
}

function unparsed(sql: string): TStatementAnalysis {
  return {
    text: sql,
    command: "Unparseable",
    class: "unknown",
    tablesRead: [],
    tablesWritten: [],
    nestedCommands: [],
    functions: [],
    unboundedWrite: false,
    destructive: false,
    fingerprint: "",
  };
}

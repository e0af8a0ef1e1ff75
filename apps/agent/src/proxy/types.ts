import type { TAuditEvent } from "@portcullis/agent-protocol";
import type { TStatementAnalysis, TStatementMasking } from "@portcullis/policy";
import type { TSessionMasking } from "./result-masking.ts";
import type { TUpstreamTarget } from "./upstream.ts";

export interface TSessionIdentity {
  identityId: string;
  identityName: string;
  identityKind: "human" | "service" | "ai_agent";
  groups: string[];
  /** sha256 of the token the session logged in with: revoking that token ends the session. Never logged. */
  credentialHash?: string;
  /** Set when the session logged in with a short-lived signed credential: when it stops admitting. */
  signedCredentialExpiresAt?: number;
}

export interface TSessionInfo extends TSessionIdentity {
  sessionId: string;
  connectionId: string;
  connectionName: string;
  environment: string;
  clientAddr: string;
  applicationName: string;
}

export type TAuthOutcome =
  | {
      ok: true;
      identity: TSessionIdentity;
      connection: { id: string; name: string; environment: string };
      upstream: TUpstreamTarget;
    }
  | { ok: false; code: string; message: string };

/** The governance decision for one client message (a simple query may hold several statements). */
export interface TVerdict {
  action: "allow" | "block" | "require_approval";
  ruleId: string | null;
  ruleName: string | null;
  message: string;
  statements: TStatementAnalysis[];
  /** Index into statements of the statement that caused a block (-1 when allowed). */
  offendingIndex: number;
  /** How each statement's results must be masked (parallel to statements; empty when nothing is masked). */
  masking: TStatementMasking[];
  /**
   * What that masking was judged with (the rules, the session's masking rules and the schema catalog), for
   * remask(); unset when it depends on none.
   */
  maskedWith?: object | null;
}

export interface TApprovalDecision {
  approved: boolean;
  /** Who decided (null when the request timed out). */
  decidedBy: string | null;
  reason: string;
}

/** What the proxy needs from the rest of the agent: who may connect, what may run, where events go. */
export interface TProxyHooks {
  authenticate(request: {
    user: string;
    database: string;
    password: string;
    clientAddr: string;
  }): TAuthOutcome;
  decide(session: TSessionInfo, sql: string): TVerdict;
  /** An audit event; `json`, when given, is `JSON.stringify(event)` already built (statement events). */
  record(event: TAuditEvent, json?: string): void;
  /**
   * Whether the audit spool can take `bytes` more of events than it holds: a statement whose event it could not
   * take is refused before it runs (spool/audit-room.ts). Without it, there is no limit.
   */
  auditRoom?(bytes: number): boolean;
  /** Masking in force for this session now (null: nothing to mask). Asked per result, so policy changes apply at once. */
  masking?(session: TSessionInfo): TSessionMasking | null;
  /**
   * A statement needs an approval: ask for one. The session holds the statement (and everything the client
   * sends after it) until `decision` settles; other sessions are not affected. Absent, such statements are
   * refused with the rule's message. A rejected promise counts as a denial (fail closed). `withdraw` is
   * called when the session ends before `decision` settles: nothing is waiting for the decision any more.
   */
  requestApproval?(
    session: TSessionInfo,
    request: { statement: string; verdict: TVerdict },
  ): { link: string | null; decision: Promise<TApprovalDecision>; withdraw?(reason: string): void };
  /** Work to finish before the session's first statement (reading the schema catalog for masking). */
  prepareSession?(session: TSessionInfo): Promise<void>;
  /**
   * A DDL statement succeeded in the session's transaction, which the agent's own reads of the schema cannot
   * see until it commits: until schemaSettled, masking treats what it knows of the schema as in doubt.
   */
  schemaChanged?(session: TSessionInfo): void;
  /**
   * A session whose transaction ran DDL is between transactions again, or closed. The promise (if any)
   * settles once the schema has been read again.
   */
  schemaSettled?(session: TSessionInfo): Promise<void> | void;
  /** A statement's masking judged again if what it was judged with has changed since (null: it has not). */
  remask?(
    session: TSessionInfo,
    statement: TStatementAnalysis,
    judgedWith: object | null,
  ): { masking: TStatementMasking; maskedWith: object } | null;
  /** A session opened or closed (the agent reports its open sessions to the control plane). */
  sessionsChanged?(): void;
}

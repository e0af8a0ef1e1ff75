// Enforces the latest policy snapshot: who may connect to which connection, and what each statement may do.
// Everything here is in memory and synchronous, so the hot path never waits on the control plane, and the
// agent keeps enforcing its last policy while the control plane is unreachable.
import {
  createHash,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  verify,
  type KeyObject,
} from "node:crypto";
import {
  ZSignedCredentialPayload,
  type TConnectionPolicy,
  type TPolicySnapshot,
  type TSignedCredentialPayload,
} from "@portcullis/agent-protocol";
import {
  AnalysisCache,
  compileGuardrails,
  compileMaskingRules,
  decideUnparseable,
  DETECTOR_IDS,
  evaluateGuardrails,
  redactDetected,
  statementMasking,
  UNTAINTED,
  withInheritedRules,
  type TCompiledGuardrail,
  type TDetectorId,
  type TGuardrailDecision,
  type TCompiledMasking,
  type TRequestContext,
  type TStatementAnalysis,
  type TStatementMasking,
} from "@portcullis/policy";
import { SchemaCatalogs, type TCatalog } from "./proxy/catalog.ts";
import type { TSessionMasking, TTextRedactor } from "./proxy/result-masking.ts";
import type { TAuthOutcome, TSessionInfo, TVerdict } from "./proxy/types.ts";

/** Content detectors: over every error and notice, and over result cells where detector rules ask for it. */
const KNOWN_DETECTORS = new Set<string>(DETECTOR_IDS);
const detectorRedactor: TTextRedactor = (text, options) =>
  redactDetected(text, {
    columnHint: options?.columnHint,
    // A Set, not the zod enum: this runs once per scanned result cell.
    detectors: options?.detectors?.filter((d): d is TDetectorId => KNOWN_DETECTORS.has(d)),
  });

/** What decide() worked out for one statement: the guardrail decision, and its masking when allowed. */
interface TStatementDecision {
  decision: TGuardrailDecision;
  masking: TStatementMasking | null;
}

/**
 * One session's decisions, valid while the rules, its masking and the schema they were made with are the
 * current ones. Keyed by the statement's columnRefs array, which an analysis owns and the copies of a cached
 * analysis (same statement, other literals) share: a decision never reads the statement's text.
 */
interface TDecisionMemo {
  rules: readonly TCompiledGuardrail[];
  masking: TCompiledMasking;
  catalog: TCatalog | undefined;
  byStatement: WeakMap<object, TStatementDecision>;
}

/** Short-lived database credentials signed by the control plane (see packages/db db-credentials.ts). */
const SIGNED_PREFIX = "pcdb_";

/** One empty rule list, so a connection without guardrails keeps its memo across calls. */
const NO_RULES: readonly TCompiledGuardrail[] = [];

export class Governor {
  private connections = new Map<string, TConnectionPolicy>();
  private connectionsById = new Map<string, TConnectionPolicy>();
  private rulesByConnection = new Map<string, TCompiledGuardrail[]>();
  /** Masking rules compiled per identity and connection; rebuilt lazily after each policy update. */
  private maskingByIdentity = new Map<string, TCompiledMasking>();
  /** Each session's entry of maskingByIdentity, valid while that map is the current one. */
  private readonly maskingBySession = new WeakMap<
    TSessionInfo,
    { of: Map<string, TCompiledMasking>; compiled: TCompiledMasking }
  >();
  private maskingKey: Buffer = randomBytes(32);
  private endedSessions = new Set<string>();
  private readonly cache = new AnalysisCache();
  /** Repeated statements (every Parse of pgbench or an ORM) skip guardrail and masking evaluation. */
  private readonly memos = new WeakMap<TSessionInfo, TDecisionMemo>();
  private readonly sessionMaskings = new WeakMap<TCompiledMasking, TSessionMasking>();
  /** Each identity's rules with its relatives' added, for the catalog they were added from. */
  private readonly inheritedMasking = new WeakMap<
    TCompiledMasking,
    { catalog: TCatalog; masking: TCompiledMasking }
  >();
  revision = -1;

  private readonly catalogs: SchemaCatalogs;
  private readonly redact: TTextRedactor;
  /**
   * Per connection: the sessions whose open transaction ran DDL, and once none is left, the invalidation a
   * catalog read must come after for the doubt to end.
   */
  private readonly schemaDoubt = new Map<string, { sessions: Set<TSessionInfo>; settledAt: number | null }>();

  constructor(options: { catalogs?: SchemaCatalogs; redact?: TTextRedactor } = {}) {
    this.catalogs = options.catalogs ?? new SchemaCatalogs();
    this.redact = options.redact ?? detectorRedactor;
  }

  /** Keys that sign short-lived database credentials, by key id. */
  private credentialKeys = new Map<string, KeyObject>();

  /** Whether an admin ended this session (it is closed at the next policy update). */
  wasEnded(info: TSessionInfo): boolean {
    return this.endedSessions.has(info.sessionId);
  }

  update(snapshot: TPolicySnapshot): void {
    this.endedSessions = new Set(snapshot.endedSessions);
    this.credentialKeys = new Map();
    for (const key of snapshot.credentialKeys ?? []) {
      try {
        this.credentialKeys.set(
          key.kid,
          createPublicKey({ key: Buffer.from(key.publicKey, "base64"), format: "der", type: "spki" }),
        );
      } catch {
        // An unreadable key admits nobody; the others still work.
      }
    }
    this.connections = new Map(snapshot.connections.map((c) => [c.name, c]));
    this.connectionsById = new Map(snapshot.connections.map((c) => [c.id, c]));
    this.rulesByConnection = new Map(
      snapshot.connections.map((c) => [c.id, compileGuardrails(c.guardrails)]),
    );
    this.maskingByIdentity = new Map();
    // Without a deployment key (older control plane), keyed masks are still consistent within this process.
    if (snapshot.maskingKey) this.maskingKey = Buffer.from(snapshot.maskingKey, "hex");
    this.revision = snapshot.revision;
  }

  /** The session's masking rules, with those a partition or inheritance child shares with its relatives. */
  private compiledMasking(session: TSessionInfo): TCompiledMasking {
    const compiled = this.identityMasking(session);
    const catalog = this.catalogFor(session);
    if (!catalog || compiled.columnRules.length === 0) return compiled;
    const known = this.inheritedMasking.get(compiled);
    if (known?.catalog === catalog) return known.masking;
    const masking = withInheritedRules(compiled, catalog.relatives);
    this.inheritedMasking.set(compiled, { catalog, masking });
    return masking;
  }

  private identityMasking(session: TSessionInfo): TCompiledMasking {
    // Looked up per statement: by session first, which spares building and hashing the key string.
    const known = this.maskingBySession.get(session);
    if (known?.of === this.maskingByIdentity) return known.compiled;
    const key = `${session.connectionId}|${session.identityName}`;
    let compiled = this.maskingByIdentity.get(key);
    if (!compiled) {
      compiled = compileMaskingRules(
        this.connectionsById.get(session.connectionId)?.maskingRules ?? [],
        session,
      );
      this.maskingByIdentity.set(key, compiled);
    }
    this.maskingBySession.set(session, { of: this.maskingByIdentity, compiled });
    return compiled;
  }

  /** Masking in force for a session now, or null when nothing of its results is ever masked. */
  sessionMasking(session: TSessionInfo): TSessionMasking | null {
    const compiled = this.compiledMasking(session);
    if (compiled.columnRules.length === 0 && compiled.detectorRules.length === 0) return null;
    const connection = this.connectionsById.get(session.connectionId);
    // Keep the schema fresh in the background; until it is read, column origins count as unknown (masked).
    if (connection) void this.catalogs.ensure(connection.id, connection.upstream);
    const catalog = this.catalogFor(session);
    // The same object while nothing changed, so sessions can reuse the plans they made with it.
    let current = this.sessionMaskings.get(compiled);
    if (!current || current.catalog !== catalog || current.key !== this.maskingKey) {
      current = { compiled, key: this.maskingKey, catalog, redact: this.redact };
      this.sessionMaskings.set(compiled, current);
    }
    return current;
  }

  /** Reads the connection's catalog before a masked session's first statement. */
  async prepareSession(session: TSessionInfo): Promise<void> {
    if (!this.sessionMasking(session)) return;
    const connection = this.connectionsById.get(session.connectionId);
    if (connection) await this.catalogs.ensure(connection.id, connection.upstream);
  }

  /**
   * DDL ran in a session's transaction. The catalog is read on a connection of the agent's own, which sees
   * only committed changes: a view redefined in that transaction would be masked by its old definition. Until
   * the transaction has ended and the schema been read again, every session on the connection masks views
   * whole.
   */
  schemaChanged(session: TSessionInfo): void {
    let doubt = this.schemaDoubt.get(session.connectionId);
    if (!doubt) {
      doubt = { sessions: new Set(), settledAt: null };
      this.schemaDoubt.set(session.connectionId, doubt);
    }
    doubt.sessions.add(session);
    doubt.settledAt = null;
  }

  /** A session whose transaction ran DDL is between transactions (or gone): read the schema again now. */
  schemaSettled(session: TSessionInfo): Promise<void> | void {
    const doubt = this.schemaDoubt.get(session.connectionId);
    if (!doubt?.sessions.delete(session)) return;
    const seq = this.catalogs.invalidate(session.connectionId);
    if (doubt.sessions.size === 0) doubt.settledAt = seq;
    // A session without masking does not wait for the read: the next masked session's starts it.
    const connection = this.connectionsById.get(session.connectionId);
    if (connection && this.sessionMasking(session))
      return this.catalogs.ensure(connection.id, connection.upstream);
  }

  /**
   * A statement's masking judged again if what it was judged with (`judgedWith`, the verdict's maskedWith: the
   * rules, the session's masking rules and the schema catalog) has changed: results can arrive long after the
   * statement was judged (a prepared statement kept by a pool, one behind DDL in the same query string, one
   * that waited for a lock while a view was redefined). Null when nothing changed.
   */
  remask(
    session: TSessionInfo,
    statement: TStatementAnalysis,
    judgedWith: object | null,
  ): { masking: TStatementMasking; maskedWith: object } | null {
    const compiled = this.compiledMasking(session);
    const memo = this.decisionMemo(session, compiled);
    if (memo === judgedWith) return null;
    return { masking: statementMasking(statement, compiled, memo.catalog), maskedWith: memo };
  }

  /** The catalog masking uses for a session: in doubt while DDL on its connection is not known to be read. */
  private catalogFor(session: TSessionInfo): TCatalog | undefined {
    const catalog = this.catalogs.get(session.connectionId);
    const doubt = this.schemaDoubt.get(session.connectionId);
    if (!doubt) return catalog;
    if (
      doubt.sessions.size === 0 &&
      doubt.settledAt !== null &&
      this.catalogs.readAfter(session.connectionId, doubt.settledAt)
    ) {
      this.schemaDoubt.delete(session.connectionId);
      return catalog;
    }
    return catalog && doubtfulCatalog(catalog);
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
      // The names are the client's, up to the startup packet's 10 KB: clipped, as no real name is that long.
      message: `password authentication failed for user "${clip(request.user)}": the token is invalid or expired, or the identity has no access to "${clip(request.database)}"`,
    };
    if (!this.hasPolicy)
      return {
        ok: false,
        code: "57P03",
        message: "the Portcullis agent has not received its policy yet; try again shortly",
      };
    const connection = this.connections.get(request.database);
    if (!connection) return refused;
    if (request.password.startsWith(SIGNED_PREFIX))
      return this.authenticateSigned(request, connection, now, refused);
    const presented = Buffer.from(createHash("sha256").update(request.password).digest("hex"));
    for (const credential of connection.credentials) {
      if (credential.identityName !== request.user) continue;
      const stored = Buffer.from(credential.tokenHash);
      if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) continue;
      // Ended: another entry for the same token (a longer grant) may still admit it.
      if (credential.expiresAt && Date.parse(credential.expiresAt) <= now) continue;
      return {
        ok: true,
        identity: {
          identityId: credential.identityId,
          identityName: credential.identityName,
          identityKind: credential.identityKind,
          groups: credential.groups,
          credentialHash: credential.tokenHash,
        },
        connection: { id: connection.id, name: connection.name, environment: connection.environment },
        upstream: { ...connection.upstream },
      };
    }
    return refused;
  }

  /**
   * A short-lived credential signed by the control plane: valid signature by a key of the snapshot, for this
   * connection, unexpired, and the identity still holds a grant to it.
   */
  private authenticateSigned(
    request: { user: string; password: string },
    connection: TConnectionPolicy,
    now: number,
    refused: TAuthOutcome,
  ): TAuthOutcome {
    const [encodedPayload, encodedSignature] = request.password.slice(SIGNED_PREFIX.length).split(".");
    if (!encodedPayload || !encodedSignature) return refused;
    const payloadBytes = Buffer.from(encodedPayload, "base64url");
    let payload: TSignedCredentialPayload;
    try {
      const parsed = ZSignedCredentialPayload.safeParse(JSON.parse(payloadBytes.toString("utf8")));
      if (!parsed.success) return refused;
      payload = parsed.data;
    } catch {
      return refused;
    }
    const key = this.credentialKeys.get(payload.kid);
    if (!key || !verify(null, payloadBytes, key, Buffer.from(encodedSignature, "base64url"))) return refused;
    if (payload.cid !== connection.id || payload.exp * 1000 <= now) return refused;
    const grant = connection.grants.find(
      (g) =>
        g.identityId === payload.sub &&
        g.identityName === request.user &&
        (!g.expiresAt || Date.parse(g.expiresAt) > now),
    );
    if (!grant) return refused;
    return {
      ok: true,
      identity: {
        identityId: grant.identityId,
        identityName: grant.identityName,
        identityKind: grant.identityKind,
        groups: grant.groups,
        credentialHash: createHash("sha256").update(request.password).digest("hex"),
        signedCredentialExpiresAt: payload.exp * 1000,
      },
      connection: { id: connection.id, name: connection.name, environment: connection.environment },
      upstream: { ...connection.upstream },
    };
  }

  /** True while the credential the session logged in with is still valid (not revoked, expired or ungranted). */
  stillAuthorized(info: TSessionInfo, now = Date.now()): boolean {
    const connection = this.connections.get(info.connectionName);
    if (!connection || connection.id !== info.connectionId) return false;
    if (info.signedCredentialExpiresAt !== undefined)
      return (
        info.signedCredentialExpiresAt > now &&
        connection.grants.some(
          (g) => g.identityId === info.identityId && (!g.expiresAt || Date.parse(g.expiresAt) > now),
        )
      );
    return connection.credentials.some(
      (c) =>
        c.identityId === info.identityId &&
        (info.credentialHash === undefined || c.tokenHash === info.credentialHash) &&
        (!c.expiresAt || Date.parse(c.expiresAt) > now),
    );
  }

  decide(session: TSessionInfo, sql: string): TVerdict {
    const ctx: TRequestContext = {
      environment: session.environment,
      identityName: session.identityName,
      identityKind: session.identityKind,
      groups: session.groups,
    };
    const masking = this.compiledMasking(session);
    const analysis = this.cache.analyze(sql);
    if (!analysis.ok) {
      const decision = decideUnparseable(ctx, analysis.error);
      // Text the engine cannot read may return anything: everything computed in it is masked.
      const unknown: TStatementMasking =
        masking.columnRules.length > 0
          ? { ...UNTAINTED, tainted: true, reasons: ["unparseable statement"] }
          : UNTAINTED;
      return {
        ...decision,
        statements: [unparsed(sql)],
        offendingIndex: decision.action === "allow" ? -1 : 0,
        masking: [unknown],
      };
    }
    const memo = this.decisionMemo(session, masking);
    const statementMaskings: TStatementMasking[] = [];
    let allow: TVerdict | null = null;
    let approval: TVerdict | null = null;
    for (let i = 0; i < analysis.statements.length; i++) {
      const statement = analysis.statements[i]!;
      let decided = memo.byStatement.get(statement.columnRefs);
      if (!decided) {
        const decision = evaluateGuardrails(statement, ctx, memo.rules);
        decided = {
          decision,
          // A statement that needs an approval is masked as it would be without (approving is not exempting).
          masking: decision.action === "block" ? null : statementMasking(statement, masking, memo.catalog),
        };
        memo.byStatement.set(statement.columnRefs, decided);
      }
      const { decision } = decided;
      // Any statement refused refuses the whole query string, even behind one that needs an approval: an
      // approver must not be able to let through what the guardrails block.
      if (decision.action === "block") {
        return { ...decision, statements: analysis.statements, offendingIndex: i, masking: [] };
      }
      const m = decided.masking!;
      if (m.block) {
        return {
          action: "block",
          ruleId: "builtin-masking",
          ruleName: m.block.ruleName,
          message: m.block.message,
          statements: analysis.statements,
          offendingIndex: i,
          masking: [],
        };
      }
      statementMaskings.push(m);
      if (decision.action === "require_approval") {
        approval ??= {
          ...decision,
          statements: analysis.statements,
          offendingIndex: i,
          masking: statementMaskings,
          maskedWith: memo,
        };
        continue;
      }
      // Spelled out rather than spread: this runs per statement, and a spread copy costs map transitions.
      allow ??= {
        action: decision.action,
        ruleId: decision.ruleId,
        ruleName: decision.ruleName,
        message: decision.message,
        statements: analysis.statements,
        offendingIndex: -1,
        masking: statementMaskings,
        maskedWith: memo,
      };
    }
    if (approval) return approval;
    // An empty query string ("" or ";") has no statements: Postgres answers it with EmptyQueryResponse.
    return (
      allow ?? {
        action: "allow",
        ruleId: null,
        ruleName: null,
        message: "",
        statements: [],
        offendingIndex: -1,
        masking: [],
      }
    );
  }

  private decisionMemo(session: TSessionInfo, masking: TCompiledMasking): TDecisionMemo {
    const rules = this.rulesByConnection.get(session.connectionId) ?? NO_RULES;
    const catalog = this.catalogFor(session);
    let memo = this.memos.get(session);
    if (!memo || memo.rules !== rules || memo.masking !== masking || memo.catalog !== catalog) {
      memo = { rules, masking, catalog, byStatement: new WeakMap() };
      this.memos.set(session, memo);
    }
    return memo;
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }
}

/** Named among a view's functions while its definition may have changed: one without a schema is unknown code. */
const UNCOMMITTED_DEFINITION = "(a definition changed in a transaction not yet committed)";
const doubtfulCatalogs = new WeakMap<TCatalog, TCatalog>();
/** A set that holds every name. */
const ANY_NAME: ReadonlySet<string> = new (class extends Set<string> {
  override has(): boolean {
    return true;
  }
})();

/**
 * The catalog while DDL may not be in it: every view masked whole (as calling unknown code), no view column's
 * origin known, no relation's columns known, and (see result-masking.ts) columns of unknown relations masked.
 */
function doubtfulCatalog(catalog: TCatalog): TCatalog {
  let doubtful = doubtfulCatalogs.get(catalog);
  if (!doubtful) {
    doubtful = {
      ...catalog,
      viewSources(table) {
        const sources = catalog.viewSources(table);
        return (
          sources && { columns: sources.columns, functions: [...sources.functions, UNCOMMITTED_DEFINITION] }
        );
      },
      viewColumnPath: () => null,
      // No relation's columns are known either: a statement reading one is judged as reading one it does
      // not know (its computed columns masked), since the name may now stand for something made in the DDL.
      columnsOf: () => undefined,
      columnTypes: () => undefined,
      copyColumnsOf: () => undefined,
      // Nor which functions are the user's (one made in the DDL may shadow a built-in): every name may be.
      userFunctions: ANY_NAME,
      userOperators: ANY_NAME,
      // Not every type: a statement naming any type or relation would count as converting by a cast, and its
      // writes be refused until the schema is read again. A cast made in the open transaction waits for that.
      userCastTypes: catalog.userCastTypes,
      inDoubt: true,
    };
    doubtfulCatalogs.set(catalog, doubtful);
  }
  return doubtful;
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
    columnRefs: [],
    starRefs: [],
    aliases: {},
    copyTo: false,
    runsCode: false,
    changesQuoting: false,
    preparedStatement: null,
    stored: null,
  };
}

/** A client-chosen name as refusals quote it: identities and connections have no longer names. */
function clip(name: string): string {
  return name.length > 320 ? `${[...name.slice(0, 320)].slice(0, -1).join("")}…` : name;
}

// One client session after authentication: forwards traffic both ways, asks the governor about every
// statement (simple and extended protocol), and reports one audit event per statement with its outcome.
//
// Blocking without breaking protocol order: a blocked statement is not dropped, it is replaced by text
// that is certain to fail parsing upstream (BLOCKED_SQL). Postgres then answers with an ErrorResponse in
// exactly the right place in the response stream, discards the rest of the pipeline until Sync and rolls
// back the implicit transaction, just as if it had refused the statement itself; the agent swaps that
// error for its own message naming the rule.
import { createHash, randomUUID } from "node:crypto";
import type net from "node:net";
import {
  AUDIT_EVENT_LIMITS,
  fitAuditNames,
  fitAuditText,
  type TAuditEvent,
  type TDecision,
} from "@portcullis/agent-protocol";
import {
  isSqlAsciiEncodingName,
  isUnsafeClientEncoding,
  isUtf8EncodingName,
  readsDifferentlyWithBackslashEscapes,
  resolvedColumns,
  UNPARSEABLE_RULE_ID,
  UNTAINTED,
  type TCopyOut,
  type TStatementAnalysis,
  type TStatementMasking,
} from "@portcullis/policy";
import type { Logger } from "pino";
import { auditBytesFor, auditBytesOfStatement, SPOOL_FULL_VERDICT } from "./audit-room.ts";
import { CopyRowError, scanCopyRow } from "./copy-scan.ts";
import {
  isScannedType,
  maskDataRow,
  maskNoticeFrame,
  maskNotificationFrame,
  nullDataRow,
  parseRowDescription,
  planResult,
  withFormats,
  type TFieldDescription,
  type TResultPlan,
  type TSessionMasking,
} from "./result-masking.ts";
import { isoTimestamp, StatementEventJson } from "./statement-event-json.ts";
import type { TApprovalDecision, TProxyHooks, TSessionInfo, TVerdict } from "./types.ts";
import {
  bindMessage,
  copyFailMessage,
  BodyReader,
  errorResponse,
  executeMessage,
  flushMessage,
  FrameReader,
  inlineQueryMessages,
  noticeResponse,
  MAX_CLIENT_MESSAGE,
  parseErrorFields,
  parseMessage,
  ProtocolError,
  queryMessage,
  rowsFromCommandTag,
  type TFrame,
} from "./wire.ts";

export const BLOCKED_SQL = "PORTCULLIS BLOCKED STATEMENT";
/** A statement name no client uses: a refused Bind binds it, so that the server fails the Bind in its place. */
const REFUSED_STATEMENT = "portcullis refused statement \u0001";

/**
 * Masking reads and rewrites text as UTF-8 (as does the statement analysis), so a masked session speaks UTF-8.
 * SQL_ASCII passes the database's bytes as they are. Another client_encoding would turn masked values, and
 * the masks, into other characters.
 */
export function isUtf8Encoding(name: string): boolean {
  return isUtf8EncodingName(name) || isSqlAsciiEncodingName(name);
}

export const encodingRefusal = (encoding: string) =>
  isUnsafeClientEncoding(encoding)
    ? `Portcullis reads statements as UTF-8, and in client_encoding ${encoding} a character can hold a backslash or quote byte: connect with client_encoding UTF8 (PGCLIENTENCODING=UTF8)`
    : `Portcullis masks data for this identity in UTF-8 only, and client_encoding is ${encoding}: connect with client_encoding UTF8 (PGCLIENTENCODING=UTF8, or the driver's Unicode variant)`;

/** Whether a session may go on in this client_encoding: never one the analysis could misread, UTF-8 if masked. */
export const encodingAllowed = (encoding: string, masked: boolean) =>
  !isUnsafeClientEncoding(encoding) && (!masked || isUtf8Encoding(encoding));

/** With standard_conforming_strings off the server reads backslashes in string literals as escapes,
 * unlike the agent's parser: statement analysis, and every rule built on it, could be fooled. */
export const QUOTING_REFUSAL =
  "Portcullis requires standard_conforming_strings = on for this database (the server reports it off): ask an admin to change the database or role setting";

/** What the agent asks the server before sending a quoting-sensitive statement on behind running code. */
// Both settings that decide how the server reads the statement (code run earlier in the batch may have changed
// either, and the server reports changes only at ReadyForQuery). Qualified, and without operators: the session's
// search_path could put a function or operator of the same name first.
const QUOTING_CHECK_SQL =
  "select pg_catalog.concat_ws(' ', pg_catalog.current_setting('standard_conforming_strings'), pg_catalog.current_setting('client_encoding'))";
/** ParseComplete, BindComplete, DataRow, CommandComplete and two CloseComplete (see inlineQueryMessages). */
const QUOTING_CHECK_ANSWERS = 6;
const NOTHING = Buffer.alloc(0);

const T = {
  Query: 0x51,
  Parse: 0x50,
  Bind: 0x42,
  Execute: 0x45,
  Describe: 0x44,
  Close: 0x43,
  Sync: 0x53,
  Flush: 0x48,
  CopyData: 0x64,
  CopyDone: 0x63,
  CopyFail: 0x66,
  Terminate: 0x58,
  FunctionCall: 0x46,
} as const;

const B = {
  DataRow: 0x44,
  CommandComplete: 0x43,
  EmptyQuery: 0x49,
  PortalSuspended: 0x73,
  Error: 0x45,
  Ready: 0x5a,
  ParseComplete: 0x31,
  BindComplete: 0x32,
  CloseComplete: 0x33,
  RowDescription: 0x54,
  NoData: 0x6e,
  Notice: 0x4e,
  Notification: 0x41,
  ParameterStatus: 0x53,
  CopyOutResponse: 0x48,
  CopyInResponse: 0x47,
  CopyBothResponse: 0x57,
  CopyData: 0x64,
  ParameterDescription: 0x74,
} as const;

interface TStatementRun {
  analysis: TStatementAnalysis;
  verdict: TVerdict;
  masking: TStatementMasking;
  /** What `masking` was judged with (see TVerdict.maskedWith). */
  maskedWith?: object | null;
  /** Set when the statement ran because someone approved it. */
  approvedBy?: string | null;
}

/** A statement waiting for an approval, and the client messages that arrived behind it. */
interface THold {
  /** A Bind is held when it would run an approved statement again (see approvedStatements). */
  kind: "query" | "parse" | "bind";
  frame: TFrame;
  name: string;
  sql: string;
  verdict: TVerdict;
  queue: TFrame[];
  /** Withdraws the approval request (the session ended, or the client cancelled, before a decision). */
  withdraw?: (reason: string) => void;
  /** Bytes of client messages queued behind it: past HOLD_QUEUE_BYTES the client socket is paused. */
  queuedBytes: number;
}

/**
 * A refusal the client should see with its own SQLSTATE rather than a guardrail's: a held statement the
 * client cancelled gets 57014, as a cancelled statement does from Postgres.
 */
type TRefusal = TVerdict & { sqlState?: string };

/** How many COPY FROM STDIN a statement has started (a query string may hold several). */
interface TCopyWindow {
  copyIns: number;
  /** It is (or its portal was bound, as the client sent it, to) a COPY ... FROM: see copyInBarrier. */
  mayCopyIn: boolean;
}

/** Masking state of the result being streamed for one statement. */
interface TResultState {
  plan: TResultPlan | null;
  /** The masking in force when the plan was made; applies to every row of this result. */
  masking: TSessionMasking | null;
  /** No column description reached us for a result that must be masked: every cell becomes NULL. */
  nullAll: boolean;
  masked: Set<string>;
  /** A COPY ... TO whose rows the content detectors read (see copy-scan.ts). */
  copy: TCopyScan | null;
}

interface TCopyScan {
  format: TCopyOut;
  masking: TSessionMasking;
  /** Column names for the detectors' hints, when known. */
  columns: readonly string[] | null;
  /** `COPY table TO`: its columns' types, so that only text is scanned, as in results. */
  types: ReadonlyMap<string, number> | undefined;
  /** The CSV header row is still to come (names, not values). */
  headerPending: boolean;
  /** The session's detectors, listed once per COPY rather than per row. */
  detectors: string[];
}

/**
 * A column hint with every name-based loosening (SSN, phone, secret) for fields whose name is not known:
 * a bare 9-digit number there is masked as an SSN rather than let through.
 */
const UNKNOWN_COLUMN_HINT = "ssn phone token";

/**
 * A request of the client's whose answers are still to come, and `copyEnds`: how many COPY ends (CopyDone,
 * CopyFail) the client had sent before it. The server reads the client's messages between a CopyInResponse and
 * the client's next COPY end as COPY data, ignoring a Sync there.
 */
type TPending = TPendingRequest & { copyEnds: number };

type TPendingRequest =
  | ({
      kind: "query";
      runs: TStatementRun[];
      index: number;
      rows: number;
      startedAt: number;
      blocked: TVerdict | null;
      failed: boolean;
      /** Whether any answer of its own arrived (a simple query always gets one before its ReadyForQuery). */
      answered: boolean;
    } & TCopyWindow &
      TResultState)
  | {
      kind: "parse";
      name: string;
      sql: string;
      /** What the name will stand for once the server confirms (ParseComplete). */
      run: TStatementRun | null;
      blocked: TVerdict | null;
      verdict: TVerdict | null;
    }
  | {
      kind: "bind";
      portal: string;
      statement: string;
      formats: number[];
      blocked?: TVerdict;
      /** What the statement stood for when the client sent this Bind (see runOfPortalAsSent). */
      sent?: TStatementRun | null;
    }
  | { kind: "close"; target: number; name: string }
  | ({
      kind: "execute";
      portal: string;
      /** What the portal runs, looked up when its first answer arrives (undefined until then). */
      run: TStatementRun | null | undefined;
      /** The statement the portal was bound to, while that statement still has the same definition. */
      statement: string | null;
      /** What the portal runs (its FETCH's cursor, its EXECUTE's prepared statement), null when not known. */
      judged: TStatementRun | null;
      formats: number[];
      planned: boolean;
      rows: number;
      startedAt: number;
      /** Refused for want of room in the audit spool: an Execute of a portal that does not exist went instead. */
      blocked?: TVerdict;
      /** The most its event may take in the spool (see hasAuditRoom). */
      auditBytes: number;
    } & TCopyWindow &
      TResultState)
  | { kind: "describe"; target: number; name: string }
  | { kind: "sync" }
  /** The agent's own look at standard_conforming_strings (see quotingBarrier): answers seen, value read. */
  | { kind: "quoting-check"; answers: number; value: string | null };

const QUOTING_CHECK_ANSWER_TYPES = new Set<number>([
  B.ParseComplete,
  B.BindComplete,
  B.DataRow,
  B.CommandComplete,
  B.CloseComplete,
]);

/** Which queued request each answer may belong to (the head of the queue must be one of them). */
const ANSWERED_BY = new Map<number, ReadonlySet<TPending["kind"]>>([
  [B.DataRow, new Set(["query", "execute"])],
  [B.CommandComplete, new Set(["query", "execute"])],
  [B.EmptyQuery, new Set(["query", "execute"])],
  [B.CopyInResponse, new Set(["query", "execute"])],
  [B.CopyOutResponse, new Set(["query", "execute"])],
  [B.PortalSuspended, new Set(["execute"])],
  [B.ParseComplete, new Set(["parse"])],
  [B.BindComplete, new Set(["bind"])],
  [B.CloseComplete, new Set(["close"])],
  [B.RowDescription, new Set(["describe", "query"])],
  [B.NoData, new Set(["describe"])],
  [B.ParameterDescription, new Set(["describe"])],
  // Only replication starts COPY BOTH, and the agent refuses replication connections.
  [B.CopyBothResponse, new Set<TPending["kind"]>()],
]);

const freshResult = (): TResultState => ({
  plan: null,
  masking: null,
  nullAll: false,
  masked: new Set(),
  copy: null,
});

function runsOf(verdict: TVerdict): TStatementRun[] {
  return verdict.statements.map((analysis, i) => ({
    analysis,
    verdict,
    masking: verdict.masking[i] ?? UNTAINTED,
    maskedWith: verdict.maskedWith,
  }));
}

type TCopyCapable = Extract<TPending, { kind: "query" | "execute" }>;

/** COPY ... FROM (STDIN, or a file or program, which the guardrails judge). */
function copiesIn(analysis: TStatementAnalysis): boolean {
  return analysis.command === "CopyStmt" && !analysis.copyTo;
}

function hasHighByte(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i]! >= 0x80) return true;
  return false;
}

/** The statement text of a Query, or the statement name and text of a Parse. */
function statementOf(frame: TFrame): { name: string; sql: string } {
  const reader = new BodyReader(frame.raw, frame.bodyStart);
  const name = frame.type === T.Parse ? reader.cstring() : "";
  return { name, sql: reader.cstring() };
}

/** Result-format codes at the end of a Bind message (the reader is positioned after the statement name). */
function resultFormatsOf(reader: BodyReader): number[] {
  const paramFormats = reader.int16();
  for (let i = 0; i < paramFormats; i++) reader.int16();
  const params = reader.int16();
  for (let i = 0; i < params; i++) {
    const len = reader.int32();
    if (len > 0) reader.bytes(len);
  }
  const count = reader.int16();
  if (count === 0) return NO_FORMATS;
  const formats: number[] = [];
  for (let i = 0; i < count; i++) formats.push(reader.int16());
  return formats;
}

const NO_FORMATS: number[] = [];

/** Masking of a statement or portal the agent cannot name (a DECLAREd cursor run by Execute, say). */
const UNKNOWN_STATEMENT: TStatementMasking = {
  ...UNTAINTED,
  tainted: true,
  reasons: ["a statement or portal the agent did not see prepared"],
};

/** How strict a verdict is: an EXECUTE takes the stricter of its own and its statement's (see judgeExecutes). */
const STRICTNESS: Record<TVerdict["action"], number> = { allow: 0, require_approval: 1, block: 2 };

/** What an Execute of a portal the agent did not see bound is recorded under (see recordExecute). */
const UNKNOWN_PORTAL_VERDICT: TVerdict = {
  action: "allow",
  ruleId: "builtin-unknown-portal",
  ruleName: "Portal not bound through Portcullis",
  message: "an Execute of a portal whose statement was judged when it was opened",
  statements: [],
  offendingIndex: -1,
  masking: [],
};

const MAX_STATEMENT_IN_EVENT = 100_000;
/** How long the agent waits for a gone client's statements once it has cancelled them (see close). */
const DRAIN_LIMIT_MS = 5_000;
/**
 * While a statement waits for an approval the session keeps reading its client, so a client that goes away
 * or cancels is noticed (and the request withdrawn); what it sends behind the statement waits, up to this
 * much before the socket is paused.
 */
const HOLD_QUEUE_BYTES = 1 << 20;

/**
 * A statement's text as its audit event carries it: whole up to MAX_STATEMENT_IN_EVENT characters; a longer one
 * keeps its start and its end (where a long padding comment could otherwise hide what decides its effect)
 * around a note of what was left out, with the whole text's length and SHA-256, cut between characters.
 */
export function statementForEvent(text: string): string {
  if (text.length <= MAX_STATEMENT_IN_EVENT) return text;
  const digest = createHash("sha256").update(text).digest("hex");
  const head = fitAuditText(text, 70_000);
  let tail = text.slice(text.length - 29_000);
  if (/^[\uDC00-\uDFFF]/.test(tail)) tail = tail.slice(1);
  const note = `\n/* Portcullis: ${text.length - head.length - tail.length} characters left out here; the statement has ${text.length} characters, SHA-256 of its UTF-8 ${digest} */\n`;
  return head + note + tail;
}
/** Longest a session waits for preparation before serving anyway (masking then errs on the strict side). */
const PREPARE_TIMEOUT_MS = 3_000;

export class ProxySession {
  private readonly clientReader = new FrameReader(MAX_CLIENT_MESSAGE);
  private readonly upstreamReader = new FrameReader(1024 * 1024 * 1024);
  private readonly pending: TPending[] = [];

  private queue(request: TPendingRequest): void {
    const entry: TPending = { ...request, copyEnds: this.copyEndsSent };
    this.pending.push(entry);
    if ((entry.kind === "execute" || entry.kind === "query") && entry.mayCopyIn) this.copyInAhead = entry;
  }
  /** Upstream is discarding extended-protocol messages until the next Sync (after an error). */
  private discardUntilSync = false;
  /**
   * The session's prepared statements and portals as the server has them: changed only by the server's
   * answers (ParseComplete, BindComplete, CloseComplete, the CommandComplete of PREPARE or DEALLOCATE), never
   * by what a client merely asked for. A Parse the server refuses (a name already in use) leaves the name
   * standing for its old statement, and an Execute may reach the server long after later messages were
   * read: a portal's masking is looked up when its first answer arrives. Statements and portals the agent
   * does not know (a cursor from DECLARE, one prepared by server-side code) are masked as unknown.
   */
  /**
   * Protocol-level statements an approver let through, by name, as the client sends them (ahead of the server's
   * answers), and the batch the approval covers (syncsSent then): an approval covers one execution, which may be
   * a batch of Binds before one Sync (a JDBC executeBatch); a Bind in a later batch asks again.
   */
  private readonly approvedStatements = new Map<string, { sql: string; batch: number }>();
  /** Sync messages the client has sent. */
  private syncsSent = 0;
  /** CopyDone and CopyFail messages the client has sent (see TPending's copyEnds). */
  private copyEndsSent = 0;
  /** While the server reads COPY data: the copyEnds of the messages it reads as such (see enterCopyIn). */
  private copyIn: number | null = null;
  private readonly statements = new Map<string, TStatementRun>();
  private readonly portals = new Map<
    string,
    {
      run: TStatementRun | null;
      statement: string;
      formats: number[];
      /** What its FETCH or EXECUTE ran, fixed at its first Execute: later ones read the rows stored then. */
      judged?: TStatementRun;
    }
  >();
  /**
   * Cursors the session declared, by name: a FETCH from one is masked like the query it was declared for
   * (psql's FETCH_COUNT, psqlODBC's declare/fetch), not as a statement defined elsewhere. Forgotten when closed,
   * when a Bind makes a portal of the same name, and all of them once code the agent does not see has run (a
   * function may close a cursor and open another under its name). A name never seen declared stays unknown.
   */
  private readonly cursors = new Map<string, TStatementRun>();
  /** As the server last reported it: COPY rows are read as UTF-8 only when they are. */
  private clientEncoding = "UTF8";
  /** Something that may run the database's code ran in the open transaction (see cursorsAfter). */
  private codeInTransaction = false;
  /** Result columns learned from Describe, for Executes that come without one. */
  private readonly statementFields = new Map<string, TFieldDescription[]>();
  /** With, for a FETCH or EXECUTE, the statement it would run when described (its shape is decided then). */
  private readonly portalFields = new Map<
    string,
    { fields: TFieldDescription[]; judged: TStatementRun | null }
  >();
  private closed = false;
  /** A refusal for want of room in the audit spool is on record since a statement last fitted (recordBlocked). */
  private spoolFullRecorded = false;
  /** Closed, but reading the answers to statements under way (see close). */
  private draining = false;
  private readonly drainTimers: NodeJS.Timeout[] = [];
  private closeReason = "client disconnected";
  /**
   * The status byte of the last ReadyForQuery the client got (I, T or E), or 0 once the client has sent
   * anything since: with nothing pending either, the session is idle between transactions.
   */
  private readyStatus = 0x49;
  /**
   * Extended-protocol messages went upstream since the last Sync: the server holds them in an implicit
   * transaction even when each is answered and a ReadyForQuery for an earlier batch has come since.
   */
  private unsynced = false;
  /** DDL succeeded since the session was last between transactions (see TProxyHooks.schemaChanged). */
  private ddlInTransaction = false;
  /** Set by endWhenIdle: the FATAL to end the session with at its next idle moment. */
  private endAtIdle: { reason: string; fatal: { code: string; message: string } } | null = null;
  private held: THold | null = null;
  /**
   * Client messages waiting for earlier statements to finish (see quotingBarrier): the first is a statement
   * whose meaning depends on standard_conforming_strings, which an earlier statement could have changed.
   */
  private barrier: TFrame[] | null = null;
  /** The statement `barrier` waits for (see copyInBarrier), or null for a quoting barrier. */
  private copyBarrier: TCopyCapable | null = null;
  /** The last statement queued that may start a COPY FROM STDIN (see copyInBarrier). */
  private copyInAhead: TCopyCapable | null = null;
  /**
   * The last RowDescription and the last result plan: a client that runs the same statement again (every
   * Describe of pgbench or an ORM) gets the same columns back, and the plan is reused instead of remade.
   */
  private lastDescription: { raw: Buffer; fields: TFieldDescription[] } | null = null;
  /** Builds the JSON of this session's audit events from the parts that repeat. */
  private readonly eventJson = new StatementEventJson();
  private lastPlan: {
    fields: TFieldDescription[];
    statement: TStatementMasking;
    masking: TSessionMasking;
    plan: TResultPlan | null;
  } | null = null;

  /** When the client's session began (it was authenticated and linked to its upstream backend). */
  readonly startedAt = new Date();

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    readonly info: TSessionInfo,
    private readonly hooks: TProxyHooks,
    private readonly logger: Logger,
    private readonly onClose: (session: ProxySession) => void,
    /** For a gone client's statements (see close): how to cancel them (a CancelRequest), and after how long. */
    private readonly drain?: { cancel: () => void; graceMs: number },
  ) {}

  /** `parameters`: what the server reported at startup (ParameterStatus), for the session's client encoding. */
  start(
    initialUpstream: Buffer[],
    parameters: readonly [string, string][] = [],
    /** What the client sent behind its password: read first, as if it came now. */
    initialClient: Buffer | null = null,
  ): void {
    for (const [name, value] of parameters) if (name === "client_encoding") this.clientEncoding = value;
    // Back into the paused socket's buffer, ahead of anything newer: the first 'data' once it flows again (a
    // flowing socket would hold it until more arrived).
    if (initialClient) {
      this.client.pause();
      this.client.unshift(initialClient);
    }
    // Client messages wait (briefly) for the session to be prepared, so the first query is masked as
    // precisely as the later ones; the socket is paused meanwhile, so nothing piles up.
    const preparing = this.hooks.prepareSession?.(this.info);
    this.pauseClientFor(preparing);
    this.client.on("data", (chunk: Buffer) => this.onClientData(chunk));
    if (initialClient && !preparing) this.client.resume();
    this.upstream.on("data", (chunk: Buffer) => this.onUpstreamData(chunk));
    for (const chunk of initialUpstream) this.onUpstreamData(chunk);
    this.client.on("close", () => this.close("client disconnected", true));
    this.upstream.on("close", () => this.close("database closed the connection"));
    this.client.on("error", (e) => this.close(`client error: ${e.message}`, true));
    this.upstream.on("error", (e) => this.close(`database error: ${e.message}`));
    // Backpressure: a slow reader pauses the other side instead of growing our buffers.
    this.client.on("drain", () => this.upstream.resume());
    this.upstream.on("drain", () => this.client.resume());
  }

  /**
   * Ends the session once it is idle outside a transaction (at once if it is now): a statement or transaction
   * under way finishes first. For an agent shutting down: clients that reconnect land on another agent, and
   * none loses work it had started.
   */
  endWhenIdle(reason: string, fatal: { code: string; message: string }): void {
    this.endAtIdle = { reason, fatal };
    if (this.isIdle) this.terminate(reason, fatal);
  }

  /** Between transactions, with nothing sent, held or waiting: ending the session now loses no work. */
  private get isIdle(): boolean {
    return this.readyStatus === 0x49 && this.betweenStatements && !this.clientReader.hasPartial;
  }

  /**
   * The database waits for this session's client: between statements (in a transaction or not, the client
   * has had ReadyForQuery), or in the middle of a message the client has not finished sending.
   */
  get awaitingClient(): boolean {
    return (this.readyStatus !== 0 && this.betweenStatements) || this.clientReader.hasPartial;
  }

  private get betweenStatements(): boolean {
    return this.pending.length === 0 && !this.unsynced && this.held === null && this.barrier === null;
  }

  /**
   * Ends the session, e.g. when its credential is revoked. `drain`: statements under way are answered (and
   * audited) before the database connection closes; the caller has asked the database to cancel them.
   */
  terminate(reason: string, fatal?: { code: string; message: string }, drain = false): void {
    if (fatal && !this.closed && !this.client.destroyed)
      this.client.write(errorResponse({ severity: "FATAL", code: fatal.code, message: fatal.message }));
    this.close(reason, drain);
  }

  /**
   * `drain`: the client is gone (or being ended) while statements it sent are under way. The database goes on
   * running them (outside a transaction, an UPDATE commits) until it next writes to a client it finds gone, so
   * the agent keeps reading their answers to record what they did, discarding what would have gone to the
   * client; past the drain's grace it cancels them, DRAIN_LIMIT_MS later it stops waiting. Without a drain,
   * or at its limit, statements still without an answer are recorded with an unknown outcome.
   */
  private close(reason: string, drain = false): void {
    if (this.closed) {
      // The database closed, or answered wrongly, while the session drained (the client's end closing is
      // expected then).
      if (this.draining && !drain) this.finishDrain();
      return;
    }
    this.closed = true;
    if (this.ddlInTransaction) void this.hooks.schemaSettled?.(this.info);
    // After a Terminate the database closing its end is expected: keep the client's reason.
    if (this.closeReason !== "client terminated the session") this.closeReason = reason;
    // Approvers are no longer asked about a statement nobody waits for (it was never sent).
    this.held?.withdraw?.(this.closeReason);
    this.client.pause();
    this.client.end();
    setTimeout(() => this.client.destroy(), 1000).unref();
    if (drain && this.statementsInFlight() && !this.upstream.destroyed) {
      this.draining = true;
      this.upstream.resume();
      // An extended-protocol batch without its Sync: the server keeps its answers until asked for them. A Flush
      // asks, and leaves the implicit transaction open (a Sync would commit it), so that ending the connection
      // rolls it back, as it does for a client that goes away directly.
      if (this.unsynced) this.upstream.write(flushMessage());
      // A COPY FROM STDIN would wait for the rest of its data: it fails, as it does when its client goes away.
      if (this.copyIn === this.copyEndsSent) this.upstream.write(copyFailMessage("the client went away"));
      const graceMs = this.drain?.graceMs ?? 0;
      this.drainTimers.push(
        setTimeout(() => this.drain?.cancel(), graceMs).unref(),
        setTimeout(() => this.finishDrain(), graceMs + DRAIN_LIMIT_MS).unref(),
      );
      return;
    }
    this.finish();
  }

  private finishDrain(): void {
    if (!this.draining) return;
    this.draining = false;
    for (const timer of this.drainTimers) clearTimeout(timer);
    this.finish();
  }

  private finish(): void {
    this.recordUnanswered();
    this.upstream.end();
    setTimeout(() => this.upstream.destroy(), 1000).unref();
    this.onClose(this);
  }

  /** Statements sent upstream whose outcome the database has not reported yet. */
  private statementsInFlight(): boolean {
    return this.pending.some(
      (entry) => (entry.kind === "query" && !entry.blocked && !entry.failed) || entry.kind === "execute",
    );
  }

  /** Each statement still without an answer as the session ends: it may have run, so it is recorded. */
  private recordUnanswered(): void {
    const error = `outcome unknown: the session ended (${this.closeReason}) before the database answered`;
    for (const entry of this.pending.splice(0)) {
      if (entry.kind === "query" && !entry.blocked && !entry.failed) {
        for (const run of entry.runs.slice(entry.index))
          this.recordRun(run, entry.startedAt, null, error, entry.masked);
      } else if (entry.kind === "execute" && !entry.blocked) {
        if (entry.run === undefined) entry.run = this.runOfPortalAsSent(entry.portal);
        this.recordExecute(entry, null, error);
      }
    }
  }

  get endReason(): string {
    return this.closeReason;
  }

  // ---- client -> upstream ----------------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    // Ended (a drain may still read the database's answers): nothing more of the client's runs.
    if (this.closed) return;
    this.readyStatus = 0;
    let frames: TFrame[];
    try {
      frames = this.clientReader.push(chunk);
    } catch (error) {
      this.protocolViolation((error as Error).message);
      return;
    }
    if (frames.length === 0) return;
    if (this.held) this.holdBehind(this.held, frames, chunk.length);
    else if (this.barrier) this.barrier.push(...frames);
    else this.processClientFrames(frames);
  }

  private processClientFrames(frames: TFrame[]): void {
    if (this.closed) return;
    const out: Buffer[] = [];
    let rewritten = false;
    try {
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i]!;
        const copy = this.copyInAhead && this.copyInBarrier();
        if (copy) {
          if (out.length > 0 && !this.upstream.write(Buffer.concat(out))) this.client.pause();
          this.barrier = frames.slice(i);
          this.copyBarrier = copy;
          this.client.pause();
          return;
        }
        const quoting = this.quotingBarrier(frame);
        if (quoting === "wait") {
          if (out.length > 0 && !this.upstream.write(Buffer.concat(out))) this.client.pause();
          this.barrier = frames.slice(i);
          this.client.pause();
          return;
        }
        if (quoting === "check") {
          this.queue({ kind: "quoting-check", answers: 0, value: null });
          out.push(inlineQueryMessages(`portcullis_quoting_${randomUUID().slice(0, 8)}`, QUOTING_CHECK_SQL));
          if (!this.upstream.write(Buffer.concat(out))) this.client.pause();
          this.barrier = frames.slice(i);
          this.client.pause();
          return;
        }
        const checked = this.approvalNeeded(frame);
        if (checked?.hold) {
          if (out.length > 0 && !this.upstream.write(Buffer.concat(out))) this.client.pause();
          this.startHold({ ...checked.hold, queue: frames.slice(i + 1), queuedBytes: 0 });
          return;
        }
        const replacement = this.handleClientFrame(frame, checked?.verdict);
        if (replacement !== frame.raw) rewritten = true;
        out.push(replacement);
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        // What came before the offending message was judged and is expected: it goes, and is answered (and
        // audited) while the session drains.
        if (out.length > 0) this.upstream.write(Buffer.concat(out));
        this.protocolViolation(error.message);
        return;
      }
      throw error;
    }
    // Frames of one chunk are contiguous: forward them as one slice unless one was rewritten.
    const data = rewritten ? Buffer.concat(out) : frames.length === 1 ? frames[0]!.raw : contiguous(frames);
    if (!this.upstream.write(data)) this.client.pause();
  }

  /**
   * With standard_conforming_strings off, a backslash in a '...' string is an escape to the server but not
   * to the agent's parser, so such a statement could smuggle anything past the policy. The agent refuses to
   * turn the setting off and ends a session where it goes off (ParameterStatus), but a function can turn it
   * off, and the server reports that only at ReadyForQuery: a statement pipelined right behind the function
   * call would be read by the server before the agent hears of it. So a quoting-sensitive statement goes
   * upstream only when nothing before it is still running:
   * - "wait" while earlier batches have not reached ReadyForQuery (their ParameterStatus comes first);
   * - "check" when something already ran in its own unsynced batch (no ReadyForQuery will come first, as in
   *   JDBC batches): the agent asks the server for the setting in the same batch and waits for the answer;
   * - "send" otherwise (nothing pending, or nothing of its batch executed).
   */
  private quotingBarrier(frame: TFrame): "send" | "wait" | "check" {
    if (frame.type !== T.Query && frame.type !== T.Parse) return "send";
    if (this.pending.length === 0 || this.discardUntilSync) return "send";
    // Cheap test first: no backslash byte, nothing to worry about (the common case).
    if (frame.raw.indexOf(0x5c, frame.bodyStart) < 0) return "send";
    // A backslash read differently with the setting off, or one that could be the second byte of a character
    // should code have switched client_encoding to SJIS or the like (the server converts each message as it
    // arrives, so a Parse behind that Execute is read in the new encoding).
    if (
      !readsDifferentlyWithBackslashEscapes(statementOf(frame).sql) &&
      !hasHighByte(frame.raw, frame.bodyStart)
    )
      return "send";
    let ranInBatch = false;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const kind = this.pending[i]!.kind;
      if (kind === "sync" || kind === "query") return "wait";
      // Bind plans the statement (constant folding may call functions); Execute runs it.
      if (kind === "execute" || kind === "bind") ranInBatch = true;
    }
    return ranInBatch ? "check" : "send";
  }

  /**
   * What the client sends behind a statement that may start a COPY FROM STDIN waits for that statement's first
   * answers. Once the server has started the COPY it reads what follows as COPY data: it ignores a Sync there,
   * and fails the COPY on anything else, swallowing it. But a COPY that fails before reading anything (into a
   * view, a statement trigger raising) leaves the server reading messages as usual: it answers a Sync (libpq and
   * pg8000 send one right behind the Execute) and runs what follows. The agent could not tell which happened
   * from what comes back, so it sends nothing on until the COPY started (releaseBarrier then drops the Syncs
   * before the client's COPY end: the client's Sync after its CopyDone ends the batch either way) or the
   * statement has left the queue. Statements that cannot copy in never wait.
   */
  private copyInBarrier(): TCopyCapable | null {
    const entry = this.copyInAhead;
    if (!entry || entry.copyIns > 0 || !this.pending.includes(entry)) {
      this.copyInAhead = null;
      return null;
    }
    return entry;
  }

  /**
   * What `portal` runs as the client has sent its messages so far: the statement its last Bind was of, as that
   * statement stood when the Bind was sent (a later Parse may reuse the name), or the portal the server has.
   */
  private runOfPortalAsSent(portal: string): TStatementRun | null {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const entry = this.pending[i]!;
      if (entry.kind === "bind" && entry.portal === portal && !entry.blocked) return entry.sent ?? null;
    }
    return this.portals.get(portal)?.run ?? null;
  }

  /** What statement `name` stands for as the client has sent its messages so far (a Parse not yet answered). */
  private runOfStatementAsSent(name: string): TStatementRun | null {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const entry = this.pending[i]!;
      if (entry.kind === "parse" && entry.name === name) return entry.run;
    }
    return this.statements.get(name) ?? null;
  }

  /**
   * Sends on what waited behind a quoting-sensitive statement once every earlier batch has finished, or the
   * server has said the setting is still on (or failed the batch, which then skips to Sync anyway); behind a
   * COPY FROM, once the COPY started or its statement is done (see copyInBarrier).
   */
  private releaseBarrier(): void {
    let waiting = this.barrier;
    if (!waiting || this.closed) return;
    const copy = this.copyBarrier;
    if (
      copy
        ? copy.copyIns === 0 && this.pending.includes(copy)
        : this.pending.some((p) => p.kind === "sync" || p.kind === "query" || p.kind === "quoting-check")
    )
      return;
    this.barrier = null;
    this.copyBarrier = null;
    if (copy && copy.copyIns > 0) {
      // The COPY started (and may have failed since): Syncs before the client's COPY end are not sent.
      const end = waiting.findIndex((f) => f.type === T.CopyDone || f.type === T.CopyFail);
      waiting = waiting.filter((f, i) => f.type !== T.Sync || (end >= 0 && i > end));
    }
    if (waiting.length > 0) this.processClientFrames(waiting);
    if (!this.held && !this.barrier && !this.closed) this.client.resume();
  }

  /**
   * For a Query or Parse, when the agent can ask for approvals: the verdict, and the hold to start when it
   * says require_approval. (The verdict is passed on, so the statement is decided once.)
   */
  private approvalNeeded(
    frame: TFrame,
  ): { verdict: TVerdict; hold: Omit<THold, "queue" | "queuedBytes"> | null } | null {
    if (this.discardUntilSync) return null;
    if (frame.type === T.Bind) {
      const judged = this.rebindNeedsApproval(frame);
      // Without approvals, what needs one is refused (handleClientFrame refuses a Bind judged other than allow).
      return judged && !this.hooks.requestApproval ? { verdict: judged.verdict, hold: null } : judged;
    }
    if (!this.hooks.requestApproval) return null;
    if (frame.type !== T.Query && frame.type !== T.Parse) return null;
    const { name, sql } = statementOf(frame);
    const verdict = this.decide(sql);
    if (verdict.action !== "require_approval") return { verdict, hold: null };
    return { verdict, hold: { kind: frame.type === T.Query ? "query" : "parse", frame, name, sql, verdict } };
  }

  /**
   * The policy's verdict on a client's statement text, where an SQL EXECUTE (alone, or inside EXPLAIN ANALYZE or
   * CREATE TABLE AS) is judged by what it runs as well: the policy sees `EXECUTE d(1)` alone, so a
   * `PREPARE d AS UPDATE ...` approved once would run again and again without asking (a protocol-level Bind of
   * it asks again, see rebindNeedsApproval). An EXECUTE takes the strictest verdict of the statements its name
   * may stand for (preparedTextsOf) when that is stricter than its own.
   */
  private decide(sql: string): TVerdict {
    const verdict = this.judgeExecutes(this.hooks.decide(this.info, sql));
    return this.hasAuditRoom(auditBytesFor(verdict)) ? verdict : SPOOL_FULL_VERDICT;
  }

  /** Whether the spool can take `bytes` more of events beyond those of this session's statements under way. */
  private hasAuditRoom(bytes: number): boolean {
    if (!this.hooks.auditRoom) return true;
    for (const entry of this.pending) {
      if (entry.kind === "execute" && !entry.blocked) bytes += entry.auditBytes;
      else if (entry.kind === "query" && !entry.blocked)
        for (let r = entry.index; r < entry.runs.length; r++)
          bytes += auditBytesOfStatement(entry.runs[r]!.analysis.text.length);
    }
    const room = this.hooks.auditRoom(bytes);
    if (room) this.spoolFullRecorded = false;
    return room;
  }

  private judgeExecutes(verdict: TVerdict): TVerdict {
    if (verdict.action === "block") return verdict;
    for (let i = 0; i < verdict.statements.length; i++) {
      const statement = verdict.statements[i]!;
      for (const name of statement.executes ?? []) {
        // Rows copied into a new table leave the column rules behind, which match by name.
        if (statement.command === "CreateTableAsStmt" && this.masking())
          return {
            ...verdict,
            action: "block",
            ruleId: "builtin-masking",
            ruleName: "Masked data stays masked",
            message:
              "CREATE TABLE AS EXECUTE is not allowed for an identity with masking rules: the new table would hold what the prepared statement reads, out of the rules' reach; use CREATE TABLE AS SELECT",
            offendingIndex: i,
          };
        let strictest: { verdict: TVerdict; text: string } | null = null;
        for (const text of this.preparedTextsOf(name)) {
          const executed = this.hooks.decide(this.info, text);
          if (STRICTNESS[executed.action] > STRICTNESS[strictest?.verdict.action ?? verdict.action])
            strictest = { verdict: executed, text };
        }
        if (strictest)
          return {
            ...verdict,
            action: strictest.verdict.action,
            ruleId: strictest.verdict.ruleId,
            ruleName: strictest.verdict.ruleName,
            message: `${strictest.verdict.message} (EXECUTE ${name} runs: ${strictest.text.slice(0, 500)})`,
            offendingIndex: i,
          };
      }
    }
    return verdict;
  }

  /**
   * What prepared statement `name` may stand for when an EXECUTE of it runs: the server's, and the last one the
   * client sent that the server has not answered yet (a PREPARE or Parse the server may still refuse, or a
   * DEALLOCATE an error may skip): an EXECUTE is judged by each.
   */
  private preparedTextsOf(name: string): string[] {
    const texts: string[] = [];
    const known = this.statements.get(name)?.analysis.text;
    if (known !== undefined) texts.push(known);
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const entry = this.pending[i]!;
      if (entry.kind === "parse" && entry.name === name) {
        if (!entry.blocked) texts.push(entry.sql);
        break;
      }
      if (entry.kind !== "query" || entry.blocked) continue;
      const prepared = entry.runs
        .slice(entry.index)
        .findLast(
          (run) =>
            run.analysis.preparedStatement?.op === "prepare" && run.analysis.preparedStatement.name === name,
        );
      if (prepared) {
        texts.push(prepared.analysis.text);
        break;
      }
    }
    return texts;
  }

  /**
   * A Bind of a statement an approver let through, after its first: judged again, and held for a new approval
   * when the policy still asks for one (a driver's statement cache would otherwise run an approved UPDATE with
   * any parameters, any number of times). Null for any other Bind.
   */
  private rebindNeedsApproval(
    frame: TFrame,
  ): { verdict: TVerdict; hold: Omit<THold, "queue" | "queuedBytes"> | null } | null {
    const reader = new BodyReader(frame.raw, frame.bodyStart);
    reader.cstring();
    const name = reader.cstring();
    const approved = this.approvedStatements.get(name);
    let sql: string;
    if (approved) {
      if (approved.batch === this.syncsSent) return null;
      sql = approved.sql;
    } else {
      // A statement that EXECUTEs a prepared one is judged at each Bind: what the name runs may have changed.
      const run = this.runOfStatementAsSent(name);
      if (!run?.analysis.executes) return null;
      sql = run.analysis.text;
    }
    const verdict = this.decide(sql);
    if (verdict.action !== "require_approval") return { verdict, hold: null };
    return { verdict, hold: { kind: "bind", frame, name, sql, verdict } };
  }

  /** Queues the response tracking of one simple query (or of the refusal that replaces it). */
  private trackQuery(runs: TStatementRun[], blocked: TVerdict | null): void {
    this.queue({
      kind: "query",
      runs,
      index: 0,
      copyIns: 0,
      mayCopyIn: !blocked && runs.some((run) => copiesIn(run.analysis)),
      answered: false,
      rows: 0,
      startedAt: Date.now(),
      blocked,
      failed: false,
      ...freshResult(),
    });
  }

  private startHold(hold: THold): void {
    this.held = hold;
    const request = this.hooks.requestApproval!(this.info, { statement: hold.sql, verdict: hold.verdict });
    hold.withdraw = request.withdraw;
    this.client.write(
      noticeResponse({
        severity: "NOTICE",
        code: "01000",
        message: `Portcullis: this statement needs an approval (${hold.verdict.ruleName ?? "policy"}): ${hold.verdict.message}. Waiting for a decision...`,
        detail: request.link ? `Approve or deny it at ${request.link}` : undefined,
      }),
    );
    request.decision
      .catch((error: Error) => ({
        approved: false,
        decidedBy: null,
        reason: `the approval could not be obtained (${error.message})`,
      }))
      .then((decision) => {
        if (this.closed || this.held !== hold) return;
        this.held = null;
        this.release(hold, decision);
        if (this.held || this.barrier) return; // a queued statement needs an approval, or waits
        this.client.resume();
      });
  }

  /**
   * Client messages behind a held statement wait their turn. A Terminate among them means nobody waits for the
   * decision any more: the session ends (the request is withdrawn, what queued behind it never runs).
   */
  private holdBehind(hold: THold, frames: TFrame[], bytes: number): void {
    if (frames.some((frame) => frame.type === T.Terminate)) {
      this.closeReason = "client terminated the session";
      this.close(this.closeReason, true);
      return;
    }
    hold.queue.push(...frames);
    hold.queuedBytes += bytes;
    if (hold.queuedBytes > HOLD_QUEUE_BYTES) this.client.pause();
  }

  /**
   * A CancelRequest for this session: a statement waiting for an approval is refused at once (57014, as
   * Postgres answers a cancelled statement) and its request withdrawn, rather than running later for a
   * client that gave up on it. Returns whether a held statement was cancelled.
   */
  cancelHeld(): boolean {
    const hold = this.held;
    if (!hold || this.closed) return false;
    this.held = null;
    hold.withdraw?.("the client cancelled it");
    this.release(hold, { approved: false, decidedBy: null, reason: "the client cancelled it" }, true);
    if (!this.held && !this.barrier) this.client.resume();
    return true;
  }

  /**
   * Sends the held statement on (approved) or refuses it in pipeline order (denied), then what queued behind it.
   * `cancelled`: the client cancelled it while it waited.
   */
  private release(hold: THold, decision: TApprovalDecision, cancelled = false): void {
    // The policy may have changed during the wait (a freeze): judged again, what is blocked now stays blocked.
    const current = decision.approved ? this.decide(hold.sql) : null;
    let data: Buffer;
    if (this.discardUntilSync) {
      // An error ahead of it in the batch arrived while it waited: the server skips it, so it neither runs nor
      // gets an answer (what queued behind it is judged as it comes).
      data = NOTHING;
    } else if (hold.kind === "bind") {
      const verdict: TVerdict =
        current && current.action !== "block"
          ? { ...current, action: "allow" }
          : (current ?? refusalOf(hold, decision, cancelled));
      const approved = this.approvedStatements.get(hold.name);
      if (approved && verdict.action === "allow") approved.batch = this.syncsSent;
      if (verdict.action === "block")
        this.recordBlocked(verdict, isoTimestamp(Date.now()), current ? undefined : "denied");
      data = this.handleClientFrame(hold.frame, verdict, true);
    } else if (current && current.action !== "block") {
      const runs = runsOf(current).map((run) => ({ ...run, approvedBy: decision.decidedBy }));
      if (hold.kind === "query") {
        this.trackQuery(runs, null);
      } else {
        this.queue({
          kind: "parse",
          name: hold.name,
          sql: hold.sql,
          run: runs[0] ?? null,
          blocked: null,
          verdict: current,
        });
        this.approvedStatements.set(hold.name, { sql: hold.sql, batch: this.syncsSent });
      }
      data = hold.frame.raw;
    } else {
      const denied: TVerdict = current ?? refusalOf(hold, decision, cancelled);
      this.recordBlocked(denied, isoTimestamp(Date.now()), current ? undefined : "denied");
      if (hold.kind === "query") {
        this.trackQuery(runsOf(denied), denied);
        data = queryMessage(BLOCKED_SQL);
      } else {
        this.queue({
          kind: "parse",
          name: hold.name,
          sql: hold.sql,
          run: null,
          blocked: denied,
          verdict: denied,
        });
        data = parseMessage(hold.name, BLOCKED_SQL);
      }
    }
    if (!this.upstream.write(data)) this.client.pause();
    const queue = hold.queue;
    if (queue.length > 0) this.processClientFrames(queue);
  }

  /** Expects the response to an extended-protocol message, unless the backend is skipping to Sync. */
  private track(entry: TPendingRequest): void {
    if (!this.discardUntilSync) this.queue(entry);
  }

  /** `recorded`: a refusal in `decided` is already in the audit (a denied approval). */
  private handleClientFrame(frame: TFrame, decided?: TVerdict, recorded = false): Buffer {
    const type = frame.type;
    if (this.copyIn === this.copyEndsSent) {
      // The server is reading COPY data: it ignores a Flush or a Sync, and would fail the COPY on (and swallow)
      // anything else, which the agent could then not pair with its answers. A Sync is not sent at all: should
      // the COPY have failed already, the server would answer it, and the agent could not tell (the client's
      // Sync after its CopyDone ends the failed COPY's batch).
      if (type === T.Flush) return frame.raw;
      if (type === T.Sync) return NOTHING;
      if (type !== T.CopyData && type !== T.CopyDone && type !== T.CopyFail && type !== T.Terminate)
        throw new ProtocolError(`message type 0x${type.toString(16)} during COPY FROM STDIN`);
    }
    // Extended-protocol messages open an implicit transaction that only a Sync (or a Query) closes.
    if (type === T.Sync || type === T.Query) this.unsynced = false;
    else if (
      type === T.Parse ||
      type === T.Bind ||
      type === T.Describe ||
      type === T.Execute ||
      type === T.Close
    )
      this.unsynced = true;
    switch (type) {
      case T.Query: {
        const { sql } = statementOf(frame);
        if (this.discardUntilSync) return this.whileDiscarding(frame, sql);
        // A simple query drops the unnamed statement.
        this.approvedStatements.delete("");
        const verdict = decided ?? this.decide(sql);
        const blocked = verdict.action !== "allow" ? verdict : null;
        if (blocked) this.recordBlocked(blocked, isoTimestamp(Date.now()));
        this.trackQuery(runsOf(verdict), blocked);
        return blocked ? queryMessage(BLOCKED_SQL) : frame.raw;
      }
      case T.Parse: {
        const { name, sql } = statementOf(frame);
        if (this.discardUntilSync) return this.whileDiscarding(frame, sql);
        // A new definition under the name: what was approved under it is gone (release() sets it again).
        this.approvedStatements.delete(name);
        const verdict = decided ?? this.decide(sql);
        if (verdict.action !== "allow") {
          this.recordBlocked(verdict, isoTimestamp(Date.now()));
          this.queue({ kind: "parse", name, sql, run: null, blocked: verdict, verdict });
          return parseMessage(name, BLOCKED_SQL);
        }
        this.queue({
          kind: "parse",
          name,
          sql,
          run: runsOf(verdict)[0] ?? null,
          blocked: null,
          verdict,
        });
        return frame.raw;
      }
      case T.Bind: {
        const reader = new BodyReader(frame.raw, frame.bodyStart);
        const portal = reader.cstring();
        const statement = reader.cstring();
        if (this.discardUntilSync) return frame.raw;
        if (decided && decided.action !== "allow") {
          // Refused: a Bind of a statement that does not exist fails in pipeline order; its error is swapped.
          if (decided.action === "block" && !recorded) this.recordBlocked(decided, isoTimestamp(Date.now()));
          this.queue({ kind: "bind", portal, statement, formats: NO_FORMATS, blocked: decided });
          return bindMessage(portal, REFUSED_STATEMENT);
        }
        const sent = this.runOfStatementAsSent(statement);
        // Each Execute of the portal makes an event: refused here when the spool has no room for it.
        if (!this.hasAuditRoom(auditBytesOfStatement(sent?.analysis.text.length ?? 0))) {
          this.recordBlocked(SPOOL_FULL_VERDICT, isoTimestamp(Date.now()));
          this.queue({ kind: "bind", portal, statement, formats: NO_FORMATS, blocked: SPOOL_FULL_VERDICT });
          return bindMessage(portal, REFUSED_STATEMENT);
        }
        this.queue({ kind: "bind", portal, statement, formats: resultFormatsOf(reader), sent });
        return frame.raw;
      }
      case T.Execute: {
        const portal = new BodyReader(frame.raw, frame.bodyStart).cstring();
        if (this.discardUntilSync) return frame.raw;
        const sent = this.runOfPortalAsSent(portal);
        const auditBytes = auditBytesOfStatement(sent?.analysis.text.length ?? 0);
        // Each Execute makes an event (a portal may be run in steps): refused when the spool has no room for it.
        const blocked = this.hasAuditRoom(auditBytes) ? undefined : SPOOL_FULL_VERDICT;
        if (blocked) this.recordBlocked(blocked, isoTimestamp(Date.now()));
        this.queue({
          kind: "execute",
          portal,
          blocked,
          auditBytes,
          copyIns: 0,
          mayCopyIn: !blocked && sent !== null && copiesIn(sent.analysis),
          run: blocked ? null : undefined,
          statement: null,
          judged: null,
          formats: NO_FORMATS,
          planned: false,
          rows: 0,
          startedAt: Date.now(),
          ...freshResult(),
        });
        return blocked ? executeMessage(REFUSED_STATEMENT) : frame.raw;
      }
      case T.Describe: {
        const reader = new BodyReader(frame.raw, frame.bodyStart);
        const target = reader.byte();
        this.track({ kind: "describe", target, name: reader.cstring() });
        return frame.raw;
      }
      case T.Close: {
        const reader = new BodyReader(frame.raw, frame.bodyStart);
        const target = reader.byte();
        const name = reader.cstring();
        if (target === 0x53 /* S */) this.approvedStatements.delete(name);
        this.track({ kind: "close", target, name });
        return frame.raw;
      }
      case T.Sync:
        this.syncsSent += 1;
        this.queue({ kind: "sync" });
        // The server stops discarding at this Sync: what the client sends after it runs, and is governed.
        this.discardUntilSync = false;
        return frame.raw;
      case T.CopyDone:
      case T.CopyFail:
        this.copyEndsSent += 1;
        return frame.raw;
      case T.Flush:
      case T.CopyData:
        return frame.raw;
      case T.Terminate:
        this.closeReason = "client terminated the session";
        return frame.raw;
      case T.FunctionCall: {
        // The server skips it (to the next Sync): nothing to refuse, and no answer to expect.
        if (this.discardUntilSync) return NOTHING;
        // The legacy fast-path call runs any function by OID, out of reach of statement analysis: refuse it.
        const verdict: TVerdict = {
          action: "block",
          ruleId: "builtin-function-call",
          ruleName: "Fast-path function calls are not allowed",
          message:
            "The protocol-level FunctionCall message is not allowed through Portcullis; use SELECT instead",
          statements: [],
          offendingIndex: -1,
          masking: [],
        };
        this.recordBlocked(verdict, isoTimestamp(Date.now()));
        this.trackQuery([], verdict);
        return queryMessage(BLOCKED_SQL);
      }
      default:
        throw new ProtocolError(`unexpected message type 0x${frame.type.toString(16)} from client`);
    }
  }

  /**
   * A Query or Parse while the server skips to the next Sync: it is not answered, so not tracked. Should the
   * agent be wrong about the skipping, what the policy refuses must still not run: it is dropped (the server
   * would have dropped it), and what may run is forwarded, its answers then ending the session (lostTrack).
   */
  private whileDiscarding(frame: TFrame, sql: string): Buffer {
    return this.hooks.decide(this.info, sql).action === "allow" ? frame.raw : NOTHING;
  }

  private protocolViolation(message: string): void {
    this.logger.warn(
      { sessionId: this.info.sessionId, reason: message },
      "protocol violation from client; closing session",
    );
    if (!this.client.destroyed)
      this.client.write(
        errorResponse({ severity: "FATAL", code: "08P01", message: `protocol violation: ${message}` }),
      );
    this.close(`protocol violation: ${message}`, true);
  }

  // ---- upstream -> client ----------------------------------------------------------------------------

  /**
   * Walks the chunk message by message without materialising them: rows of a result that needs no masking
   * are only counted and stay in the slice forwarded as is (no per-row objects); any other message is
   * handled, and a rewritten one splits the slice.
   */
  private onUpstreamData(chunk: Buffer): void {
    const reader = this.upstreamReader;
    let data: Buffer | null;
    const out: Buffer[] = [];
    /** Start of the bytes not yet in `out`: forwarded unchanged. */
    let unchanged = 0;
    let offset = 0;
    try {
      data = reader.feed(chunk);
      if (!data) return;
      for (let end = reader.frameEnd(data, offset); end > 0; end = reader.frameEnd(data, offset)) {
        const type = data[offset]!;
        if (type === B.DataRow && this.rowPassesUnchanged()) {
          offset = end;
          continue;
        }
        const frame: TFrame = { type, raw: data.subarray(offset, end), bodyStart: 5 };
        if (type === B.ParameterStatus && !this.quotingStillStandard(frame)) return;
        const replacement = this.handleUpstreamFrame(frame);
        // The session ended on this message: nothing after it goes to the client (a drain reads on).
        if (this.closed && !this.draining) return;
        if (replacement !== frame.raw) {
          if (offset > unchanged) out.push(data.subarray(unchanged, offset));
          out.push(replacement);
          unchanged = end;
        }
        offset = end;
      }
      reader.keep(data, offset);
    } catch (error) {
      this.logger.error({ sessionId: this.info.sessionId, err: error }, "invalid data from the database");
      this.close("invalid data from the database");
      return;
    }
    if (this.draining) {
      if (!this.statementsInFlight()) this.finishDrain();
      return;
    }
    if (offset > unchanged) out.push(data.subarray(unchanged, offset));
    if (out.length > 0 && !this.client.write(out.length === 1 ? out[0]! : Buffer.concat(out)))
      this.upstream.pause();
    if (this.barrier) this.releaseBarrier();
    if (this.endAtIdle !== null && this.isIdle) this.terminate(this.endAtIdle.reason, this.endAtIdle.fatal);
  }

  /**
   * A DataRow that needs nothing from the agent (no masking now, the result already planned): counted for
   * the audit event and forwarded with its neighbours. Anything else takes handleUpstreamFrame's path.
   */
  private rowPassesUnchanged(): boolean {
    const head = this.pending[0];
    if (head?.kind === "quoting-check") return false;
    // A row nothing asked for: handleUpstreamFrame ends the session.
    if (!head || (head.kind !== "query" && head.kind !== "execute")) return false;
    if (head.kind === "execute" && !head.planned) return false;
    if (head.nullAll || (head.plan && head.masking)) return false;
    head.rows += 1;
    return true;
  }

  /**
   * The policy refuses statements that turn standard_conforming_strings off; should one get through anyway,
   * the session ends before anything else is read with the server's changed quoting.
   */
  private quotingStillStandard(frame: TFrame): boolean {
    const reader = new BodyReader(frame.raw, frame.bodyStart);
    if (reader.cstring() !== "standard_conforming_strings" || reader.cstring() === "on") return true;
    this.endForQuoting();
    return false;
  }

  private endForQuoting(): void {
    this.logger.warn(
      { sessionId: this.info.sessionId },
      "standard_conforming_strings turned off; ending session",
    );
    this.terminate("standard_conforming_strings turned off", { code: "0A000", message: QUOTING_REFUSAL });
  }

  /** An answer to the agent's own quoting check: kept from the client; the session ends unless the value is on. */
  private onQuotingCheckAnswer(frame: TFrame, check: Extract<TPending, { kind: "quoting-check" }>): Buffer {
    if (frame.type === B.DataRow) {
      const reader = new BodyReader(frame.raw, frame.bodyStart);
      if (reader.int16() === 1) {
        const length = reader.int32();
        check.value = length < 0 ? null : reader.bytes(length).toString("utf8");
      }
    }
    check.answers += 1;
    if (check.answers === QUOTING_CHECK_ANSWERS) {
      this.pending.shift();
      const [quoting, encoding = ""] = (check.value ?? "").split(" ");
      if (quoting !== "on") this.endForQuoting();
      else if (!encodingAllowed(encoding, this.masking() !== null))
        this.terminate("client_encoding changed within a batch", {
          code: "0A000",
          message: encodingRefusal(encoding),
        });
    }
    return NOTHING;
  }

  /** Masking for this session right now (policy can change between statements). */
  private masking(): TSessionMasking | null {
    return this.hooks.masking?.(this.info) ?? null;
  }

  /** The statement whose results are streaming, if any. */
  private currentRun(head: TPending | undefined): TStatementRun | null {
    if (head?.kind === "query") return head.runs[head.index] ?? null;
    if (head?.kind === "execute") return head.run ?? null;
    return null;
  }

  /**
   * The statement an error or notice comes from: the running one, or the one a Bind plans (planning may fold
   * `1 / $1` into a division by zero) or a Parse reads. Null when not known.
   */
  private messageRun(head: TPending | undefined): TStatementRun | null {
    if (head?.kind === "bind") return this.statements.get(head.statement) ?? null;
    if (head?.kind === "parse") return head.run;
    return this.currentRun(head);
  }

  /**
   * The masking an error or notice is judged by: its statement's; none for a Bind, Describe or Close of a name the
   * session has no statement for (the server's answer names what the client sent, having read no data); unknown
   * (undefined) otherwise.
   */
  private messageMasking(head: TPending | undefined): TStatementMasking | undefined {
    const run = this.messageRun(head);
    if (run) return run.masking;
    return head?.kind === "bind" || head?.kind === "describe" || head?.kind === "close"
      ? UNTAINTED
      : undefined;
  }

  /**
   * How a statement's results are masked. EXECUTE of a prepared statement the agent saw prepared gets that
   * statement's masking (pg_dump reads column privileges that way); anything else its own.
   */
  private resultMasking(run: TStatementRun | null, masking: TSessionMasking): TStatementMasking {
    if (!run) return masking.compiled.columnRules.length > 0 ? UNKNOWN_STATEMENT : UNTAINTED;
    return this.currentMasking(this.judgedRun(run));
  }

  /** What a statement runs: EXECUTE its prepared statement, FETCH its cursor's query, when the agent knows them. */
  private judgedRun(run: TStatementRun): TStatementRun {
    const prepared = run.analysis.preparedStatement;
    if (prepared?.op === "execute" && prepared.name !== null)
      return this.statements.get(prepared.name) ?? run;
    const cursor = run.analysis.cursor;
    if (cursor?.op === "fetch" && cursor.name !== null) return this.cursors.get(cursor.name) ?? run;
    return run;
  }

  /**
   * A statement has ended (`completed`: without an error): what the session knows of its cursors follows. Only
   * statements that run no code of the database's keep what it knows: cursor commands over queries that call
   * nothing outside pg_catalog, transaction control, SHOW. Anything else may run code the agent does not see
   * (triggers, rules, row-level security, a view's functions) that could close a cursor and open another under
   * its name; so may a COMMIT after such a statement (deferred triggers).
   */
  private cursorsAfter(run: TStatementRun | null | undefined, completed: boolean): void {
    const analysis = run?.analysis;
    const cursor = analysis?.cursor;
    if (!run || !analysis) this.forgetCursors();
    else if (cursor?.op === "declare") {
      if (cursor.name !== null) this.portalFields.delete(cursor.name);
      if (run.masking.runsUnknownCode) this.forgetCursors();
      else if (completed && cursor.name !== null) this.cursors.set(cursor.name, run);
    } else if (cursor?.op === "fetch") {
      // A FETCH runs its cursor's query, and whatever that sets off (a row-level security policy's function) may
      // swap another cursor: only the one fetched from, which cannot be closed while it runs, is kept.
      const judged = this.judgedRun(run);
      if (judged === run || judged.masking.runsUnknownCode) this.forgetCursors();
      else {
        for (const name of this.cursors.keys()) if (name !== cursor.name) this.cursors.delete(name);
        this.codeInTransaction = true;
      }
    } else if (cursor?.op === "close") {
      if (cursor.name === null) this.forgetCursors();
      else {
        this.cursors.delete(cursor.name);
        this.portalFields.delete(cursor.name);
      }
    } else if (analysis.transaction === "commit") {
      if (this.codeInTransaction) this.forgetCursors();
    } else if (!analysis.transaction && analysis.command !== "VariableShowStmt") this.forgetCursors();
  }

  private forgetCursors(): void {
    this.cursors.clear();
    this.codeInTransaction = true;
    // A Describe of a cursor by its name (not a portal the client bound) says nothing of what it is now.
    for (const name of this.portalFields.keys()) if (!this.portals.has(name)) this.portalFields.delete(name);
  }

  /** FETCH and EXECUTE: their columns are those of what they run, decided when they run. */
  private static runsByName(run: TStatementRun): boolean {
    return run.analysis.cursor?.op === "fetch" || run.analysis.preparedStatement?.op === "execute";
  }

  /**
   * A statement's masking, judged again when the schema catalog changed since it was judged: its results can
   * come long after (a prepared statement, one behind DDL in the same query string, one that waited for a
   * lock while a view was redefined), and what a view's columns carry may be different by then.
   */
  private currentMasking(run: TStatementRun): TStatementMasking {
    if (run.maskedWith === undefined || !this.hooks.remask) return run.masking;
    const again = this.hooks.remask(this.info, run.analysis, run.maskedWith);
    if (!again) return run.masking;
    // A statement that would now be refused has run already: its computed columns are masked, at least.
    run.masking = again.masking.block ? { ...again.masking, tainted: true } : again.masking;
    run.maskedWith = again.maskedWith;
    return run.masking;
  }

  /** An Execute's first answer has arrived: its portal is now what the server runs. */
  private resolveExecute(head: Extract<TPending, { kind: "execute" }>): void {
    const portal = this.portals.get(head.portal);
    head.run = portal?.run ?? null;
    head.formats = portal?.formats ?? NO_FORMATS;
    // A FETCH or EXECUTE fills its portal at its first Execute: what it read then is what later ones return,
    // whatever the cursor or prepared statement of that name is by then.
    if (portal?.run) portal.judged ??= this.judgedRun(portal.run);
    head.judged = portal?.judged ?? null;
    // The statement's described columns hold only while the name still stands for the same statement.
    head.statement =
      portal && portal.run !== null && this.statements.get(portal.statement) === portal.run
        ? portal.statement
        : null;
  }

  private maskRow(frame: TFrame, head: Extract<TPending, { kind: "query" | "execute" }>): Buffer {
    if (head.kind === "execute" && !head.planned) {
      // An Execute's columns come from an earlier Describe of its portal, or of its statement plus Bind's formats.
      head.planned = true;
      const masking = this.masking();
      if (masking) {
        const statement = head.judged
          ? this.currentMasking(head.judged)
          : this.resultMasking(head.run ?? null, masking);
        const fields = this.executeFields(head);
        head.masking = masking;
        if (fields) head.plan = this.planFor(fields, statement, masking);
        // Without columns no cell's type is known either: content detectors could not tell text from numbers.
        else if (statement.tainted || masking.compiled.detectorRules.length > 0) {
          head.nullAll = true;
          head.masked.add("* (columns not described)");
        }
      }
    }
    if (head.nullAll) return nullDataRow(frame);
    if (!head.plan || !head.masking) return frame.raw;
    for (const label of head.plan.maskedLabels) head.masked.add(label);
    return maskDataRow(frame, head.plan, head.masking, head.masked);
  }

  /**
   * The columns of an Execute's rows: from a Describe of its portal, or of its statement plus Bind's formats. A
   * FETCH's or EXECUTE's shape is that of what it runs: a description taken while its name meant something else
   * (a cursor declared again, a statement prepared again) does not count, and neither does its statement's.
   */
  private executeFields(head: Extract<TPending, { kind: "execute" }>): TFieldDescription[] | null {
    const described = this.portalFields.get(head.portal);
    // Only a Describe of this portal taken while its FETCH or EXECUTE meant what it ran (and the agent knew it).
    if (head.run && ProxySession.runsByName(head.run))
      return head.judged !== head.run && described?.judged === head.judged ? described.fields : null;
    if (described) return described.fields;
    const statementFields = head.statement === null ? undefined : this.statementFields.get(head.statement);
    return statementFields ? withFormats(statementFields, head.formats) : null;
  }

  /**
   * A COPY ... TO starts. With content-detector rules its rows are scanned; the policy refuses the COPYs the agent
   * could not read, and should one start anyway (binary rows, a statement the agent did not analyse as COPY),
   * the session ends before a row reaches the client.
   */
  private copyScanFor(
    head: Extract<TPending, { kind: "query" | "execute" }>,
    frame: TFrame,
  ): TCopyScan | null {
    const masking = this.masking();
    if (!masking || masking.compiled.detectorRules.length === 0) return null;
    const format = this.currentRun(head)?.analysis.copyOut;
    // Rows in another encoding (a multi-byte one may hold a backslash's byte inside a character) cannot be
    // read as UTF-8: neither binary rows nor those, and the session ends before one reaches the client.
    const utf8 = isUtf8Encoding(this.clientEncoding);
    if (!format || format.format === "binary" || frame.raw[5] !== 0 || !utf8) {
      this.terminate("COPY output the content detectors cannot read", {
        code: "42501",
        message: utf8
          ? "Portcullis ended the session: COPY output that the content detectors cannot read"
          : `Portcullis ended the session: COPY output in client_encoding ${this.clientEncoding} cannot be scanned by the content detectors; use UTF8`,
      });
      return null;
    }
    const columns =
      format.columns ?? (format.relation ? (masking.catalog?.copyColumnsOf(format.relation) ?? null) : null);
    const types = format.relation ? masking.catalog?.columnTypes(format.relation) : undefined;
    return {
      format,
      masking,
      columns,
      types,
      headerPending: format.format === "csv" && format.header,
      detectors: masking.compiled.detectorRules.map((r) => r.detector),
    };
  }

  private scanCopyData(frame: TFrame, copy: TCopyScan, found: Set<string>): Buffer {
    if (copy.headerPending) {
      copy.headerPending = false;
      return frame.raw;
    }
    const { detectors } = copy;
    const row = frame.raw.subarray(frame.bodyStart);
    let rewritten: Buffer | null;
    try {
      rewritten = scanCopyRow(row, copy.format, (value, index, count) => {
        const name = copy.columns?.length === count ? copy.columns[index] : undefined;
        const type = name === undefined ? undefined : copy.types?.get(name);
        if (type !== undefined && !isScannedType(type)) return null;
        const result = copy.masking.redact(value, { detectors, columnHint: name ?? UNKNOWN_COLUMN_HINT });
        if (result.detectors.length === 0) return null;
        for (const d of result.detectors) found.add(`${name ?? `column ${index + 1}`} (${d})`);
        return result.text;
      });
    } catch (error) {
      if (!(error instanceof CopyRowError)) throw error;
      this.terminate("COPY row the content detectors cannot read", {
        code: "42501",
        message: `Portcullis ended the session: ${error.message}`,
      });
      return NOTHING;
    }
    if (!rewritten) return frame.raw;
    const out = Buffer.allocUnsafe(5 + rewritten.length);
    out[0] = B.CopyData;
    out.writeInt32BE(4 + rewritten.length, 1);
    rewritten.copy(out, 5);
    return out;
  }

  /**
   * A portal's columns are its statement's, in the Bind's formats. Clients that describe a statement's first
   * portal and never the statement (pgjdbc, once it has named a statement) then send Executes without any
   * Describe: their results are planned from these, instead of being masked as undescribed (every cell NULL).
   * Only while the name still stands for the statement the portal was bound to.
   */
  private learnStatementFields(portalName: string, fields: TFieldDescription[]): void {
    const portal = this.portals.get(portalName);
    if (!portal?.run || this.statementFields.has(portal.statement)) return;
    if (this.statements.get(portal.statement) !== portal.run || ProxySession.runsByName(portal.run)) return;
    this.statementFields.set(portal.statement, withFormats(fields, NO_FORMATS));
  }

  /** The server accepted a Parse, Bind or Close. */
  private confirmed(entry: TPending): void {
    if (entry.kind === "parse" && !entry.blocked) {
      this.statementFields.delete(entry.name);
      if (entry.run) this.statements.set(entry.name, entry.run);
      else this.statements.delete(entry.name);
    } else if (entry.kind === "bind") {
      this.portalFields.delete(entry.portal);
      this.cursors.delete(entry.portal);
      this.portals.set(entry.portal, {
        run: this.statements.get(entry.statement) ?? null,
        statement: entry.statement,
        formats: entry.formats,
      });
    } else if (entry.kind === "close") {
      if (entry.target === 0x53 /* S */) this.forgetStatement(entry.name);
      else this.forgetPortal(entry.name);
    }
  }

  /** PREPARE, DEALLOCATE or DISCARD ALL completed: the server's prepared statements changed. */
  private preparedStatementChanged(run: TStatementRun): void {
    const prepared = run.analysis.preparedStatement;
    if (!prepared || prepared.op === "execute") return;
    if (prepared.name === null) {
      this.statements.clear();
      this.statementFields.clear();
    } else if (prepared.op === "prepare") {
      this.statementFields.delete(prepared.name);
      this.statements.set(prepared.name, run);
    } else this.forgetStatement(prepared.name);
  }

  private forgetStatement(name: string): void {
    this.statements.delete(name);
    this.statementFields.delete(name);
  }

  private forgetPortal(name: string): void {
    this.portals.delete(name);
    this.portalFields.delete(name);
  }

  private describedFields(frame: TFrame): TFieldDescription[] {
    const last = this.lastDescription;
    if (last?.raw.equals(frame.raw)) return last.fields;
    const fields = parseRowDescription(frame);
    // A copy: the frame is a view of the socket's chunk, which should not be kept alive.
    this.lastDescription = { raw: Buffer.from(frame.raw), fields };
    return fields;
  }

  private planFor(
    fields: TFieldDescription[],
    statement: TStatementMasking,
    masking: TSessionMasking,
  ): TResultPlan | null {
    const last = this.lastPlan;
    if (last && last.fields === fields && last.statement === statement && last.masking === masking)
      return last.plan;
    const plan = planResult(fields, statement, masking);
    this.lastPlan = { fields, statement, masking, plan };
    return plan;
  }

  private handleUpstreamFrame(frame: TFrame): Buffer {
    const head = this.pending[0];
    if (head?.kind === "quoting-check" && QUOTING_CHECK_ANSWER_TYPES.has(frame.type))
      return this.onQuotingCheckAnswer(frame, head);
    if (head?.kind === "execute" && head.run === undefined) this.resolveExecute(head);
    const answers = ANSWERED_BY.get(frame.type);
    if (answers && !(head && answers.has(head.kind))) return this.lostTrack(frame, head);
    if (head?.kind === "query" && (answers || frame.type === B.Error)) head.answered = true;
    switch (frame.type) {
      case B.DataRow:
        if (head && (head.kind === "query" || head.kind === "execute")) {
          head.rows += 1;
          return this.maskRow(frame, head);
        }
        return frame.raw;
      case B.CopyInResponse:
        if (head && (head.kind === "query" || head.kind === "execute") && !this.enterCopyIn(head))
          return this.lostTrack(frame, head);
        // A COPY that started after its client went away gets no data: it fails at once.
        if (this.draining) this.upstream.write(copyFailMessage("the client went away"));
        return frame.raw;
      case B.CommandComplete: {
        const tag = new BodyReader(frame.raw, frame.bodyStart).cstring();
        const rows = rowsFromCommandTag(tag);
        if (head?.kind === "query" && !head.blocked) {
          const run = head.runs[head.index];
          this.cursorsAfter(run, true);
          if (run) {
            this.preparedStatementChanged(run);
            this.recordRun(run, head.startedAt, rows ?? head.rows, null, head.masked, outcomeNote(run, tag));
          }
          head.index += 1;
          head.rows = 0;
          head.startedAt = Date.now();
          Object.assign(head, freshResult());
        } else if (head?.kind === "execute") {
          this.pending.shift();
          this.cursorsAfter(head.run, true);
          if (head.run) this.preparedStatementChanged(head.run);
          this.recordExecute(head, rows ?? head.rows, null, head.run ? outcomeNote(head.run, tag) : null);
        }
        return frame.raw;
      }
      case B.EmptyQuery:
        if (head?.kind === "execute") this.pending.shift();
        return frame.raw;
      case B.PortalSuspended:
        if (head?.kind === "execute") {
          this.pending.shift();
          this.cursorsAfter(head.run, false);
          this.recordExecute(head, head.rows, null);
        }
        return frame.raw;
      case B.ParseComplete:
      case B.BindComplete:
      case B.CloseComplete:
        this.pending.shift();
        this.confirmed(head!);
        return frame.raw;
      case B.RowDescription: {
        if (head?.kind === "describe") {
          this.pending.shift();
          // Only sessions with masking need the columns of later Executes.
          if (this.masking()) {
            const fields = this.describedFields(frame);
            if (head.target === 0x53 /* S */) {
              // A FETCH's or EXECUTE's columns are decided when it runs: its statement has none to keep.
              const run = this.statements.get(head.name);
              if (!run || !ProxySession.runsByName(run)) this.statementFields.set(head.name, fields);
            } else {
              const run = this.portals.get(head.name)?.run;
              this.portalFields.set(head.name, { fields, judged: run ? this.judgedRun(run) : null });
              this.learnStatementFields(head.name, fields);
            }
          }
        } else if (head?.kind === "query") {
          const run = head.runs[head.index];
          head.masking = this.masking();
          head.plan =
            run && head.masking
              ? this.planFor(this.describedFields(frame), this.resultMasking(run, head.masking), head.masking)
              : null;
        }
        return frame.raw;
      }
      case B.NoData:
        if (head?.kind === "describe") this.pending.shift();
        return frame.raw;
      case B.ParameterStatus: {
        const reader = new BodyReader(frame.raw, frame.bodyStart);
        if (reader.cstring() !== "client_encoding") return frame.raw;
        this.clientEncoding = reader.cstring();
        // client_encoding changed (the guardrails refuse SET and set_config to the encodings they could misread;
        // code may still do it): nothing in an encoding the session may not use reaches the client.
        if (!encodingAllowed(this.clientEncoding, this.masking() !== null))
          this.terminate("client_encoding changed from UTF8", {
            code: "0A000",
            message: encodingRefusal(this.clientEncoding),
          });
        return frame.raw;
      }
      case B.CopyOutResponse:
        if (head && (head.kind === "query" || head.kind === "execute"))
          head.copy = this.copyScanFor(head, frame);
        return frame.raw;
      case B.CopyData:
        if (head && (head.kind === "query" || head.kind === "execute") && head.copy)
          return this.scanCopyData(frame, head.copy, head.masked);
        return frame.raw;
      case B.Notification: {
        const masking = this.masking();
        return (masking && maskNotificationFrame(frame, masking)) ?? frame.raw;
      }
      case B.Notice: {
        const masking = this.masking();
        if (!masking) return frame.raw;
        return maskNoticeFrame(frame, masking, this.messageMasking(head)) ?? frame.raw;
      }
      case B.Error:
        // A COPY that fails leaves copy-in mode: what the client sends next is read as usual.
        this.copyIn = null;
        return this.onUpstreamError(frame, head);
      case B.Ready: {
        // ReadyForQuery closes a simple query or a Sync; whatever is still queued before it got no answer.
        if (!this.pending.some((entry) => entry.kind === "sync" || entry.kind === "query"))
          return this.lostTrack(frame, head);
        // A simple query gets an answer of its own (a result, an error, an empty-query answer) before this one.
        const next = this.pending.find((entry) => entry.kind === "sync" || entry.kind === "query");
        if (next?.kind === "query" && !next.answered) return this.lostTrack(frame, next);
        while (this.pending.length > 0) {
          const entry = this.pending.shift()!;
          if (entry.kind === "query") {
            // A simple query replaces the unnamed statement and portal.
            this.forgetStatement("");
            this.forgetPortal("");
          }
          if (entry.kind === "sync" || entry.kind === "query") break;
        }
        // Outside a transaction block no portal survives (a cursor WITH HOLD does, but is never known).
        if (frame.raw[5] === 0x49 /* I */) {
          this.portals.clear();
          this.portalFields.clear();
        }
        this.readyStatus = frame.raw[5]!;
        if (this.readyStatus === 0x49) this.codeInTransaction = false;
        this.discardUntilSync = false;
        // DDL committed (or rolled back): the schema is read again before the client's next statement.
        if (this.ddlInTransaction && this.readyStatus === 0x49) {
          this.ddlInTransaction = false;
          this.pauseClientFor(this.hooks.schemaSettled?.(this.info));
        }
        return frame.raw;
      }
      default:
        return frame.raw;
    }
  }

  /**
   * The server started a COPY FROM STDIN for `head`: until the client's next COPY end it reads the client's
   * messages as COPY data, ignoring a Sync (libpq sends one behind an extended-protocol COPY) and failing the
   * COPY on anything else. The Syncs the client sent in that window get no answer, so they leave the queue; any
   * other message there would be consumed by the failing COPY, and the agent could no longer tell which answer
   * is whose: false ends the session.
   */
  private enterCopyIn(head: Extract<TPending, { kind: "query" | "execute" }>): boolean {
    // A COPY the agent did not expect: what the client sent behind it went upstream without waiting for it.
    if (!head.mayCopyIn && this.pending.length > 1) return false;
    const window = head.copyEnds + head.copyIns;
    head.copyIns += 1;
    this.copyIn = window;
    for (let i = this.pending.length - 1; i >= 1; i--) {
      const entry = this.pending[i]!;
      if (entry.copyEnds !== window) continue;
      if (entry.kind !== "sync") return false;
      this.pending.splice(i, 1);
    }
    return true;
  }

  /**
   * An answer the queue of what the client sent does not explain: the agent no longer knows which statement a
   * result belongs to, so it could not mask or audit it. The session ends (fail closed) before it reaches the client.
   */
  private lostTrack(frame: TFrame, head: TPending | undefined): Buffer {
    this.logger.warn(
      {
        sessionId: this.info.sessionId,
        message: String.fromCharCode(frame.type),
        expected: head?.kind ?? null,
      },
      "the database's answers no longer match what the client sent; closing session",
    );
    this.terminate("protocol state lost", {
      code: "08P01",
      message: `Portcullis ended the session: the database answered with a message (${String.fromCharCode(frame.type)}) that matches nothing the client sent${head ? ` (expected an answer to ${head.kind})` : ""}`,
    });
    return NOTHING;
  }

  private onUpstreamError(frame: TFrame, head: TPending | undefined): Buffer {
    const masking = this.masking();
    // Postgres quotes values in errors ("invalid input syntax ...: \"078-05-1120\""): mask them like results.
    const maskedFrame = masking
      ? (maskNoticeFrame(frame, masking, this.messageMasking(head)) ?? frame.raw)
      : frame.raw;
    if (!head) return maskedFrame;
    const blocked =
      head.kind === "query" || head.kind === "parse" || head.kind === "bind" || head.kind === "execute"
        ? (head.blocked ?? null)
        : null;
    let out = maskedFrame;
    const sqlState = (blocked as TRefusal | null)?.sqlState;
    if (blocked && sqlState === CANCELLED_SQLSTATE) {
      out = errorResponse({
        severity: "ERROR",
        code: CANCELLED_SQLSTATE,
        message: "canceling statement due to user request",
        detail: `Portcullis: it was waiting for an approval (${blocked.ruleName ?? "policy"}); the request is withdrawn and the statement did not run.`,
      });
    } else if (blocked) {
      out = errorResponse({
        severity: "ERROR",
        // Text the parser rejects is refused as Postgres would refuse it: a syntax error, not a privilege one.
        code: blocked.ruleId === UNPARSEABLE_RULE_ID ? "42601" : "42501",
        message:
          blocked.action === "require_approval"
            ? `Portcullis: approval required: ${blocked.message}`
            : `Portcullis blocked this statement: ${blocked.message}`,
        detail: blocked.ruleName ? `Rule: ${blocked.ruleName}` : undefined,
        hint:
          blocked.action === "require_approval"
            ? "Approvals are not enabled on this agent yet; ask an admin."
            : undefined,
      });
    } else {
      const fields = parseErrorFields({ ...frame, raw: maskedFrame });
      const message = `${fields.get("C") ?? ""}: ${fields.get("M") ?? "error"}`;
      if (head.kind === "query" && !head.failed) {
        const run = head.runs[head.index];
        this.cursorsAfter(run, false);
        if (run) this.recordRun(run, head.startedAt, null, message, head.masked);
      } else if (head.kind === "execute") {
        this.cursorsAfter(head.run, false);
        this.recordExecute(head, null, message);
      } else if (head.kind === "parse" && head.verdict) {
        const run = runsOf(head.verdict)[0];
        if (run) this.recordRun(run, Date.now(), null, message, new Set());
      }
    }
    // A refused Parse or Bind of the unnamed statement or portal has dropped the old one; a named one stays.
    if (head.kind === "parse" && head.name === "") this.forgetStatement("");
    if (head.kind === "bind" && head.portal === "") this.forgetPortal("");
    if (head.kind === "query") {
      head.failed = true; // the rest of this query string does not run; ReadyForQuery follows
    } else {
      // Extended protocol: the backend skips everything up to the next Sync.
      while (this.pending.length > 0 && this.pending[0]!.kind !== "sync") this.pending.shift();
      if (this.pending.length === 0) this.discardUntilSync = true;
    }
    return out;
  }

  // ---- audit ----------------------------------------------------------------------------------------

  private recordBlocked(verdict: TVerdict, occurredAt: string, decision: TDecision = "blocked"): void {
    // Refusals for want of room would fill what room is left: one is recorded until a statement fits again.
    if (verdict === SPOOL_FULL_VERDICT) {
      if (this.spoolFullRecorded) return;
      this.spoolFullRecorded = true;
    }
    if (verdict.statements.length === 0) {
      this.emit({
        text: null,
        analysis: null,
        decision,
        verdict,
        occurredAt,
        rows: null,
        durationMs: 0,
        error: null,
        message: verdict.message,
      });
      return;
    }
    verdict.statements.forEach((analysis, i) => {
      const offending = i === verdict.offendingIndex || verdict.offendingIndex < 0;
      this.emit({
        text: analysis.text,
        analysis,
        decision,
        verdict,
        occurredAt,
        rows: null,
        durationMs: 0,
        error: null,
        message: offending
          ? verdict.message
          : `Not run: statement ${verdict.offendingIndex + 1} of the same query was blocked`,
      });
    });
  }

  /**
   * Holds the client's next messages until `work` settles (at most PREPARE_TIMEOUT_MS): reading the schema
   * before the first statement, and again after DDL, so a table or view just made is masked by what it is
   * rather than as unknown. The socket is paused meanwhile, so nothing piles up.
   */
  private pauseClientFor(work: Promise<void> | void): void {
    if (!work) return;
    this.client.pause();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, PREPARE_TIMEOUT_MS).unref());
    void Promise.race([work.catch(() => undefined), timeout]).then(() => {
      if (!this.closed && !this.held && !this.barrier) this.client.resume();
    });
  }

  /**
   * An Execute's event: of the statement its portal was bound to, or, for a portal the agent did not see bound
   * (a cursor declared in SQL, one a function opened), of the Execute itself, so rows read through it are on
   * record too.
   */
  private recordExecute(
    head: Extract<TPending, { kind: "execute" }>,
    rows: number | null,
    error: string | null,
    note: string | null = null,
  ): void {
    if (head.run) {
      this.recordRun(head.run, head.startedAt, rows, error, head.masked, note);
      return;
    }
    this.emit({
      text: `-- Execute of portal "${head.portal}", which was not bound through Portcullis (a cursor declared in SQL, or one a function opened)`,
      analysis: null,
      decision: error ? "error" : head.masked.size > 0 ? "masked" : "allowed",
      verdict: UNKNOWN_PORTAL_VERDICT,
      occurredAt: isoTimestamp(head.startedAt),
      rows,
      durationMs: Math.max(0, Date.now() - head.startedAt),
      error,
      message: null,
      maskedColumns: [...head.masked],
    });
  }

  private recordRun(
    run: TStatementRun,
    startedAt: number,
    rows: number | null,
    error: string | null,
    masked: Set<string>,
    /** What the event should say of the outcome besides (a COMMIT the server answered with ROLLBACK). */
    note: string | null = null,
  ): void {
    // A DO block may change the schema too (with EXECUTE): counted as DDL. (A function that does is not seen.)
    if (!error && (run.analysis.class === "ddl" || run.analysis.command === "DoStmt")) {
      this.ddlInTransaction = true;
      this.hooks.schemaChanged?.(this.info);
    }
    this.emit({
      text: run.analysis.text,
      analysis: run.analysis,
      decision: error
        ? "error"
        : run.approvedBy !== undefined
          ? "approved"
          : masked.size > 0
            ? "masked"
            : "allowed",
      verdict: run.verdict,
      occurredAt: isoTimestamp(startedAt),
      rows,
      durationMs: Math.max(0, Date.now() - startedAt),
      error,
      // (No array per statement: this is the hot path.)
      message:
        run.approvedBy !== undefined
          ? `approved by ${run.approvedBy ?? "unknown"}${note === null ? "" : `; ${note}`}`
          : note,
      maskedColumns: [...masked],
    });
  }

  private emit(e: {
    text: string | null;
    analysis: TStatementAnalysis | null;
    decision: TDecision;
    verdict: TVerdict;
    occurredAt: string;
    rows: number | null;
    durationMs: number;
    error: string | null;
    message: string | null;
    maskedColumns?: string[];
  }): void {
    const a = e.analysis;
    const event: TAuditEvent = {
      id: randomUUID(),
      type: "statement",
      occurredAt: e.occurredAt,
      actorId: this.info.identityId,
      actorName: this.info.identityName,
      actorKind: this.info.identityKind,
      connectionId: this.info.connectionId,
      connectionName: this.info.connectionName,
      environment: this.info.environment,
      sessionId: this.info.sessionId,
      clientAddr: this.info.clientAddr,
      applicationName: this.info.applicationName,
      statement: e.text === null ? null : statementForEvent(e.text),
      fingerprint: a?.fingerprint || null,
      statementClass: a?.class ?? null,
      decision: e.decision,
      // Every decision names its rule, the default one included ("Default: allow").
      // Texts of the policy's and the database's (a RAISE message, a quoted identifier) fitted to the event.
      ruleId: e.verdict.ruleId === null ? null : fitAuditText(e.verdict.ruleId, AUDIT_EVENT_LIMITS.ruleId),
      ruleName:
        e.verdict.ruleName === null ? null : fitAuditText(e.verdict.ruleName, AUDIT_EVENT_LIMITS.ruleName),
      message: e.message === null ? null : fitAuditText(e.message, AUDIT_EVENT_LIMITS.message),
      tables: a ? touched(a).tables : [],
      columns: a ? touched(a).columns : [],
      maskedColumns: e.maskedColumns ? fitAuditNames(e.maskedColumns, AUDIT_EVENT_LIMITS.maskedColumns) : [],
      rowCount: e.rows,
      durationMs: e.durationMs,
      error: e.error === null ? null : fitAuditText(e.error, AUDIT_EVENT_LIMITS.error),
    };
    this.hooks.record(event, this.eventJson.write(event));
  }
}

/**
 * Tables and resolved columns of an analysis, computed once per analysis rather than per event. Keyed by
 * its columnRefs array, which copies of a cached analysis (same statement, other text) share.
 */
const CANCELLED_SQLSTATE = "57014";

/**
 * A COMMIT of a transaction that had failed is answered "ROLLBACK": its event says so, so that the timeline
 * does not read as if the transaction's statements took effect.
 */
function outcomeNote(run: TStatementRun, tag: string): string | null {
  return run.analysis.transaction === "commit" && tag === "ROLLBACK"
    ? "the transaction was rolled back: the server answered this COMMIT with ROLLBACK (a statement in it had failed), so none of its statements took effect"
    : null;
}

/** What a held statement is refused with when its approval is denied, times out or the client cancels it. */
function refusalOf(hold: THold, decision: TApprovalDecision, cancelled: boolean): TRefusal {
  return {
    ...hold.verdict,
    action: "block",
    message: cancelled
      ? `cancelled by the client while it waited for an approval`
      : `the approval was ${decision.decidedBy ? `denied by ${decision.decidedBy}` : "not given in time"}: ${decision.reason}`,
    ...(cancelled ? { sqlState: CANCELLED_SQLSTATE } : {}),
  };
}

const touchedCache = new WeakMap<object, { tables: string[]; columns: string[] }>();
function touched(a: TStatementAnalysis): { tables: string[]; columns: string[] } {
  let entry = touchedCache.get(a.columnRefs);
  if (!entry) {
    // Frozen: events share these arrays, and their JSON is cached by identity (statement-event-json.ts).
    entry = {
      tables: Object.freeze(
        fitAuditNames([...new Set([...a.tablesRead, ...a.tablesWritten])], AUDIT_EVENT_LIMITS.tables),
      ) as string[],
      columns: Object.freeze(fitAuditNames(resolvedColumns(a), AUDIT_EVENT_LIMITS.columns)) as string[],
    };
    touchedCache.set(a.columnRefs, entry);
  }
  return entry;
}

/**
 * The frames of one push() are consecutive slices of one buffer: return the slice that spans them. Frames
 * queued from several pushes (behind a held statement) may sit in one pooled buffer without being
 * adjacent, with unrelated bytes between them: those are copied instead.
 */
export function contiguous(frames: TFrame[]): Buffer {
  const first = frames[0]!.raw;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < frames.length; i++) {
    const raw = frames[i]!.raw;
    if (raw.buffer !== first.buffer || raw.byteOffset !== end) return Buffer.concat(frames.map((f) => f.raw));
    end += raw.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

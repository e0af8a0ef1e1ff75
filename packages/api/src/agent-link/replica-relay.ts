// Requests for agents linked to another control-plane replica: approval decisions and onboarding connection
// tests. Replicas share only the store, so requests and answers travel over its LISTEN/NOTIFY
// (packages/db signals.ts); every replica hears every request, and only the one holding the agent's link
// acts and answers on the matching channel with the request's id. The sender waits for that answer, so it
// can tell the caller when no replica has the agent.
import { randomUUID } from "node:crypto";
import {
  ZProbeResult,
  ZUpstreamTarget,
  type TProbeResult,
  type TUpstreamTargetSpec,
} from "@portcullis/agent-protocol";
import {
  decryptSecret,
  encryptSecret,
  getApproval,
  publishSignal,
  putReplicaMessage,
  subscribeSignals,
  takeReplicaMessage,
  type TDb,
} from "@portcullis/db";
import type { Logger } from "pino";
import { z } from "zod";

export const AGENT_NOT_CONNECTED = "the agent is not connected to the control plane";

export type TApprovalDecision = {
  approvalId: string;
  approved: boolean;
  decidedBy: string | null;
  reason: string;
};

export interface TReplicaRelayOptions {
  databaseUrl: string;
  /**
   * How long a request (an approval decision, a connection test) waits for the replica holding the agent's
   * link to take it up before the agent is reported offline (ms, default 3000).
   */
  deliveryTimeoutMs?: number;
}

/** What the relay needs from the gateway it serves: this replica's own links. */
export interface TReplicaRelayHooks {
  db: TDb;
  /** Shared by every replica: seals a connection test's target and password while they sit in the store. */
  secretKey: Buffer;
  logger: Logger;
  /** Whether the agent's link is on this replica (open). */
  holdsLink(agentId: string): boolean;
  /** Sends a decision to the agent if its link is on this replica; false otherwise. */
  deliverLocally(agentId: string, decision: TApprovalDecision): boolean;
  /** Runs a connection test on the agent if its link is on this replica; null otherwise. */
  probeLocally(
    agentId: string,
    upstream: TUpstreamTargetSpec,
    scan: boolean,
    timeoutMs: number,
  ): Promise<TProbeResult> | null;
  probeFailure(error: string): TProbeResult;
}

export interface TReplicaRelay {
  /** Resolves once this replica listens for the others' requests. */
  ready: Promise<void>;
  /** True once the replica holding the agent's link confirms it delivered the decision stored for it. */
  sendApprovalDecision(agentId: string, decision: TApprovalDecision): Promise<boolean>;
  probe(
    agentId: string,
    upstream: TUpstreamTargetSpec,
    scan: boolean,
    timeoutMs: number,
  ): Promise<TProbeResult>;
  close(): Promise<void>;
}

/** Channels between replicas; payloads are JSON, validated like any other input. */
const SIGNAL = {
  approvalDecided: "portcullis_approval_decided",
  approvalDelivered: "portcullis_approval_delivered",
  /** The test itself (target, password, CA) is a replica message under the id, encrypted with the secret key. */
  probeRequested: "portcullis_probe_requested",
  probeAccepted: "portcullis_probe_accepted",
  /** The result is a replica message under the same id. */
  probeAnswered: "portcullis_probe_answered",
} as const;

/** Where to look, not what was decided: the holding replica reads the decision from the store. */
const ZApprovalDecidedSignal = z.object({ id: z.uuid(), agentId: z.uuid(), approvalId: z.uuid() });
const ZProbeRequestedSignal = z.object({ id: z.uuid(), agentId: z.uuid() });
const ZProbeRequestBody = z.object({
  /** The request's own id, sealed with it: a sealed body cannot be replayed under another id. */
  id: z.uuid(),
  upstream: ZUpstreamTarget,
  scan: z.boolean(),
  timeoutMs: z.number().int().positive(),
});
const ZSignalAnswer = z.object({ id: z.uuid() });

export function createReplicaRelay(options: TReplicaRelayOptions, hooks: TReplicaRelayHooks): TReplicaRelay {
  const { db, secretKey, logger, probeFailure } = hooks;
  const answerMs = options.deliveryTimeoutMs ?? 3000;
  /** Answers awaited from other replicas, by channel and request id (see expectAnswer). */
  const awaitedAnswers = new Map<string, (heard: boolean) => void>();
  let closed = false;

  const subscription = subscribeSignals(options.databaseUrl, Object.values(SIGNAL), onSignal, {
    onError: (err) =>
      logger.warn(
        { err },
        "replica signals: listening failed (reconnecting) or a signal could not be handled",
      ),
  });

  function onSignal(channel: string, payload: string): void {
    const json = jsonOrNull(payload);
    if (channel === SIGNAL.approvalDecided) return void onApprovalDecided(json);
    if (channel === SIGNAL.probeRequested) return void onProbeRequested(json);
    const answer = ZSignalAnswer.safeParse(json);
    if (answer.success) settleAnswer(channel, answer.data.id, true);
  }

  /** Resolves true when another replica answers request `id` on `channel`, false after `timeoutMs`. */
  function expectAnswer(channel: string, id: string, timeoutMs: number): Promise<boolean> {
    const key = `${channel}:${id}`;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      timer.unref();
      const settle = (heard: boolean) => {
        clearTimeout(timer);
        awaitedAnswers.delete(key);
        resolve(heard);
      };
      awaitedAnswers.set(key, settle);
    });
  }

  function settleAnswer(channel: string, id: string, heard: boolean): void {
    awaitedAnswers.get(`${channel}:${id}`)?.(heard);
  }

  function answer(channel: string, id: string): void {
    publishSignal(db, channel, JSON.stringify({ id })).catch((err: unknown) =>
      logger.warn({ err, channel }, "replica signals: could not answer another replica"),
    );
  }

  /** Publishes a request; false (logged) when the store refuses it. */
  async function signal(channel: string, request: object): Promise<boolean> {
    try {
      await publishSignal(db, channel, JSON.stringify(request));
      return true;
    } catch (err) {
      logger.error({ err, channel }, "replica signals: could not reach the other replicas");
      return false;
    }
  }

  async function onApprovalDecided(json: unknown): Promise<void> {
    const request = ZApprovalDecidedSignal.safeParse(json);
    if (!request.success) return void logger.warn("replica signals: invalid approval signal ignored");
    const { id, agentId, approvalId } = request.data;
    // Every replica hears the request, the sender included: only the one holding the link acts.
    if (closed || !hooks.holdsLink(agentId)) return;
    try {
      // Anyone who can connect to the store can NOTIFY: the decision itself is read back from the store,
      // where only decideApproval (approver count, group, no self-approval, audited) can have put it.
      const approval = await getApproval(db, approvalId);
      if (!approval || approval.connection.agentId !== agentId) return;
      if (approval.status !== "approved" && approval.status !== "denied") return;
      const last = approval.decisions.at(-1);
      const decision: TApprovalDecision = {
        approvalId,
        approved: approval.status === "approved",
        decidedBy: last?.approver.name ?? null,
        reason: last?.reason || approval.status,
      };
      if (hooks.deliverLocally(agentId, decision)) answer(SIGNAL.approvalDelivered, id);
    } catch (err) {
      logger.error({ err, approvalId }, "replica signals: could not deliver an approval decision");
    }
  }

  async function onProbeRequested(json: unknown): Promise<void> {
    const request = ZProbeRequestedSignal.safeParse(json);
    if (!request.success) return void logger.warn("replica signals: invalid probe request ignored");
    const { id, agentId } = request.data;
    if (closed || !hooks.holdsLink(agentId)) return;
    try {
      // Taken, not read: should two replicas hold a link of this agent, one runs the test.
      const sealed = await takeReplicaMessage(db, id);
      if (sealed === null) return;
      const body = ZProbeRequestBody.parse(JSON.parse(decryptSecret(sealed, secretKey)));
      if (body.id !== id) throw new Error("a sealed connection test was stored under another id");
      answer(SIGNAL.probeAccepted, id);
      const running = hooks.probeLocally(agentId, body.upstream, body.scan, body.timeoutMs);
      // The link can have gone in the meantime.
      const result = running ? await running : probeFailure(AGENT_NOT_CONNECTED);
      await putReplicaMessage(db, id, JSON.stringify(result));
      answer(SIGNAL.probeAnswered, id);
    } catch (err) {
      logger.error({ err }, "replica signals: could not run a connection test for another replica");
    }
  }

  return {
    ready: subscription.ready,

    async sendApprovalDecision(agentId, decision) {
      if (closed) return false;
      const id = randomUUID();
      const delivered = expectAnswer(SIGNAL.approvalDelivered, id, answerMs);
      if (!(await signal(SIGNAL.approvalDecided, { id, agentId, approvalId: decision.approvalId })))
        settleAnswer(SIGNAL.approvalDelivered, id, false);
      return delivered;
    },

    async probe(agentId, upstream, scan, timeoutMs) {
      if (closed) return probeFailure(AGENT_NOT_CONNECTED);
      const id = randomUUID();
      const sealed = encryptSecret(JSON.stringify({ id, upstream, scan, timeoutMs }), secretKey);
      try {
        await putReplicaMessage(db, id, sealed);
      } catch (err) {
        logger.error({ err }, "replica signals: could not store a connection test for another replica");
        return probeFailure("the control plane could not reach the agent's replica");
      }
      const accepted = expectAnswer(SIGNAL.probeAccepted, id, answerMs);
      // The answer can come as soon as the test is accepted: listen for it from the start.
      const answered = expectAnswer(SIGNAL.probeAnswered, id, answerMs + timeoutMs + 1000);
      const sent = await signal(SIGNAL.probeRequested, { id, agentId });
      if (!sent || !(await accepted)) {
        settleAnswer(SIGNAL.probeAnswered, id, false);
        await takeReplicaMessage(db, id).catch(() => null); // nobody took it
        return probeFailure(AGENT_NOT_CONNECTED);
      }
      if (!(await answered))
        return probeFailure(`the agent did not answer within ${Math.round(timeoutMs / 1000)} s`);
      const stored = await takeReplicaMessage(db, id).catch(() => null);
      const result = ZProbeResult.safeParse(stored === null ? null : jsonOrNull(stored));
      if (!result.success) return probeFailure("the agent's replica sent an unreadable result");
      return result.data;
    },

    async close() {
      closed = true;
      for (const settle of [...awaitedAnswers.values()]) settle(false);
      await subscription.close();
    },
  };
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

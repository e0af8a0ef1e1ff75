// Approval notifications: a Slack message (incoming webhook, Block Kit) with a link to the request page, the
// outcome posted when it is decided, and a generic signed JSON webhook for other tools. Deliveries are best
// effort with a short timeout: a slow chat service never delays a decision, and a failure is logged.
import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import type { TApprovalDto } from "../approvals/schemas.ts";

export interface TNotifierOptions {
  publicUrl: string;
  slackWebhookUrl?: string;
  webhookUrl?: string;
  /** Signs webhook bodies: `X-Portcullis-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
  webhookSecret?: string;
  logger?: Logger;
  timeoutMs?: number;
}

export interface TNotifier {
  approvalRequested(approval: TApprovalDto): Promise<void>;
  approvalDecided(approval: TApprovalDto, decidedBy: string, reason: string): Promise<void>;
}

const KIND = { human: "person", service: "service", ai_agent: "AI agent" } as const;

/** The signature a receiver recomputes to trust a webhook body. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/**
 * Text for Slack mrkdwn, which reads `<...>` as links and mentions (`<!channel>`, `<@U123>`): names, reasons and
 * statements come from users and agents, so &, < and > become entities, as Slack asks.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A mrkdwn text object whose values are escaped already; verbatim: no bare `@channel` or `#name` turned live. */
function mrkdwn(text: string) {
  return { type: "mrkdwn", text, verbatim: true } as const;
}

const ZWSP = "\u200b";

/**
 * A statement as a mrkdwn code block that it cannot close: a zero-width space on each side of every backtick
 * leaves no ``` inside (nor next to the fences). Escaped, and cut to at most `max` characters of block text.
 */
export function mrkdwnCodeBlock(statement: string, max: number): string {
  const fence = "```";
  const room = max - 2 * fence.length - 1; // the ellipsis of a cut statement
  let body = "";
  for (const ch of statement) {
    const piece = ch === "`" ? `${ZWSP}\`${ZWSP}` : escapeMrkdwn(ch);
    // Cut by whole characters, so no entity or surrogate pair is split.
    if (body.length + piece.length > room) return `${fence}${body}…${fence}`;
    body += piece;
  }
  return `${fence}${body}${fence}`;
}

/** "2 from dba", "1 from dba", "2 approvers". */
function approversNeeded(approval: TApprovalDto): string {
  if (approval.requiredGroup)
    return `${approval.requiredApprovals} from ${escapeMrkdwn(approval.requiredGroup)}`;
  return `${approval.requiredApprovals} approvers`;
}

export function slackRequestMessage(approval: TApprovalDto, link: string) {
  const who = escapeMrkdwn(
    `${approval.requester.displayName} (${approval.requester.name}, ${KIND[approval.requester.kind]})`,
  );
  const connection = escapeMrkdwn(approval.connection.name);
  const environment = escapeMrkdwn(approval.connection.environment);
  return {
    text: `Approval needed: ${who} on ${connection} (${environment})`,
    blocks: [
      {
        type: "header",
        text: { type: "plain_text", text: `Approval needed on ${approval.connection.name}`, emoji: false },
      },
      {
        type: "section",
        fields: [
          mrkdwn(`*Requested by*\n${who}`),
          mrkdwn(`*Environment*\n${environment}`),
          mrkdwn(`*Risk*\n${approval.risk} (${approval.statementClass})`),
          mrkdwn(`*Rule*\n${escapeMrkdwn(approval.ruleName ?? "—")}`),
          // Only when it takes more than one approval from anyone: who should pick it up.
          ...(approval.requiredApprovals > 1 || approval.requiredGroup
            ? [mrkdwn(`*Approvers*\n${approversNeeded(approval)}`)]
            : []),
        ],
      },
      // Slack limits a text block to 3000 characters.
      { type: "section", text: mrkdwn(mrkdwnCodeBlock(approval.statement, 3000)) },
      {
        type: "actions",
        elements: [
          {
            type: "button",
            text: { type: "plain_text", text: "Review and decide" },
            url: link,
            style: "primary",
          },
        ],
      },
    ],
  };
}

export function slackDecisionMessage(
  approval: TApprovalDto,
  decidedBy: string,
  reason: string,
  link: string,
) {
  const verb =
    approval.status === "approved" ? "Approved" : approval.status === "cancelled" ? "Withdrawn" : "Denied";
  const by = escapeMrkdwn(decidedBy);
  const label = escapeMrkdwn(`${approval.connection.name}: ${approval.requester.name}`);
  return {
    text: `${verb} by ${by}: ${escapeMrkdwn([...approval.statement].slice(0, 200).join(""))}`,
    blocks: [
      {
        type: "section",
        text: mrkdwn(`*${verb}* by ${by}${reason ? `: ${escapeMrkdwn(reason)}` : ""}\n<${link}|${label}>`),
      },
    ],
  };
}

export function createNotifier(options: TNotifierOptions): TNotifier {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const linkOf = (approval: TApprovalDto) =>
    new URL(`/approvals/${approval.id}`, options.publicUrl).toString();

  const post = async (url: string, body: string, headers: Record<string, string>, what: string) => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) options.logger?.warn({ status: response.status, what }, "notification refused");
    } catch (err) {
      options.logger?.warn({ err, what }, "notification failed");
    }
  };

  const webhook = (event: string, approval: TApprovalDto, extra: Record<string, unknown> = {}) => {
    if (!options.webhookUrl) return Promise.resolve();
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ event, approval, link: linkOf(approval), ...extra });
    const headers: Record<string, string> = { "x-portcullis-event": event };
    if (options.webhookSecret)
      headers["x-portcullis-signature"] =
        `t=${timestamp},v1=${webhookSignature(options.webhookSecret, timestamp, body)}`;
    return post(options.webhookUrl, body, headers, `webhook ${event}`);
  };

  return {
    async approvalRequested(approval) {
      await Promise.all([
        options.slackWebhookUrl
          ? post(
              options.slackWebhookUrl,
              JSON.stringify(slackRequestMessage(approval, linkOf(approval))),
              {},
              "slack request",
            )
          : undefined,
        webhook("approval.requested", approval),
      ]);
    },
    async approvalDecided(approval, decidedBy, reason) {
      await Promise.all([
        options.slackWebhookUrl
          ? post(
              options.slackWebhookUrl,
              JSON.stringify(slackDecisionMessage(approval, decidedBy, reason, linkOf(approval))),
              {},
              "slack decision",
            )
          : undefined,
        webhook("approval.decided", approval, { decidedBy, reason }),
      ]);
    },
  };
}

const REGISTRY_KEY = "__portcullisNotifier";

/** Published by the server process (both the gateway and Next's route handlers notify). */
export function registerNotifier(notifier: TNotifier | null): void {
  (globalThis as Record<string, unknown>)[REGISTRY_KEY] = notifier;
}

export function notifier(): TNotifier | null {
  return ((globalThis as Record<string, unknown>)[REGISTRY_KEY] as TNotifier | undefined) ?? null;
}

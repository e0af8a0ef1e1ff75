// Notifications against a local HTTP receiver that checks what Slack and a webhook consumer would get.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TApprovalDto } from "../approvals/schemas.ts";
import {
  createNotifier,
  escapeMrkdwn,
  mrkdwnCodeBlock,
  slackDecisionMessage,
  slackRequestMessage,
  webhookSignature,
} from "./notifier.ts";

interface TReceived {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base = "";
const received: TReceived[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const approval: TApprovalDto = {
  id: "11111111-2222-4333-8444-555555555555",
  status: "pending",
  statement: "update customers set phone = phone where id = 1",
  statementClass: "write",
  tables: ["customers"],
  risk: "medium",
  ruleName: "Developer writes need approval",
  reason: "Every write by the developer needs an approval",
  requester: { name: "dev@demo.local", displayName: "Dana Developer", kind: "human" },
  connection: { id: "c", name: "demo", environment: "production" },
  requiredApprovals: 1,
  requiredGroup: null,
  decisions: [],
  createdAt: new Date().toISOString(),
  expiresAt: new Date().toISOString(),
  decidedAt: null,
};

describe("notifier", () => {
  it("posts a Slack Block Kit message with the approval link, and a signed webhook", async () => {
    received.length = 0;
    const notifier = createNotifier({
      publicUrl: "https://portcullis.example.com",
      slackWebhookUrl: `${base}/slack`,
      webhookUrl: `${base}/hook`,
      webhookSecret: "0123456789abcdef-secret",
    });
    await notifier.approvalRequested(approval);
    const slack = received.find((r) => r.path === "/slack")!;
    const message = JSON.parse(slack.body) as {
      text: string;
      blocks: { type: string; elements?: { url?: string }[] }[];
    };
    expect(message.text).toContain("Dana Developer (dev@demo.local, person) on demo (production)");
    const button = message.blocks.find((b) => b.type === "actions")!.elements![0]!;
    expect(button.url).toBe(`https://portcullis.example.com/approvals/${approval.id}`);
    expect(slack.body).toContain(approval.statement);

    const hook = received.find((r) => r.path === "/hook")!;
    expect(hook.headers["x-portcullis-event"]).toBe("approval.requested");
    const [t, v1] = String(hook.headers["x-portcullis-signature"]).split(",");
    const timestamp = Number(t!.slice(2));
    expect(v1).toBe(`v1=${webhookSignature("0123456789abcdef-secret", timestamp, hook.body)}`);
    expect(Math.abs(Date.now() / 1000 - timestamp)).toBeLessThan(60);
    expect(JSON.parse(hook.body)).toMatchObject({
      event: "approval.requested",
      approval: { id: approval.id },
    });
  });

  it("posts the outcome when a request is decided", async () => {
    received.length = 0;
    const notifier = createNotifier({ publicUrl: "https://p.example", slackWebhookUrl: `${base}/slack` });
    await notifier.approvalDecided(
      { ...approval, status: "denied" },
      "admin@demo.local",
      "use the ticket queue",
    );
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body).text).toContain("Denied by admin@demo.local");
    // A request withdrawn by the agent (its client cancelled or went away) is not reported as denied.
    await notifier.approvalDecided(
      { ...approval, status: "cancelled" },
      "the agent",
      "the session ended (client disconnected)",
    );
    expect(JSON.parse(received[1]!.body).text).toContain("Withdrawn by the agent");
  });

  it("names the approvers a request needs when it takes more than one approval from anyone", () => {
    const fieldsOf = (a: TApprovalDto) =>
      (slackRequestMessage(a, "https://x").blocks[1] as { fields: { text: string }[] }).fields.map(
        (f) => f.text,
      );
    expect(fieldsOf(approval).some((t) => t.startsWith("*Approvers*"))).toBe(false);
    expect(fieldsOf({ ...approval, requiredApprovals: 2, requiredGroup: "dba" })).toContain(
      "*Approvers*\n2 from dba",
    );
    expect(fieldsOf({ ...approval, requiredApprovals: 3 })).toContain("*Approvers*\n3 approvers");
  });

  it("escapes every user-controlled value, so none can add links or mentions", () => {
    const evil = "x <!channel> <https://evil.example|click> & co";
    const hostile: TApprovalDto = {
      ...approval,
      statement: "select 1 -- ```\n<!channel> <https://evil.example|approve here>\n```",
      ruleName: evil,
      requiredGroup: evil,
      requester: { name: evil, displayName: evil, kind: "human" },
      connection: { id: "c", name: evil, environment: evil },
    };
    // The message's fallback text and its mrkdwn objects (plain_text is not parsed for links and mentions).
    const mrkdwnOf = (message: { text: string; blocks: unknown[] }) => {
      const texts = [message.text];
      JSON.stringify(message.blocks, (_key, value: unknown) => {
        const object = value as { type?: unknown; text?: unknown; verbatim?: unknown } | null;
        if (object?.type === "mrkdwn" && typeof object.text === "string") {
          texts.push(object.text);
          // Verbatim: Slack does not turn a bare @channel or #channel in the values into a live one.
          expect(object.verbatim).toBe(true);
        }
        return value;
      });
      return texts.join("\n");
    };
    const request = mrkdwnOf(slackRequestMessage(hostile, "https://p.example/approvals/1"));
    const decision = mrkdwnOf(
      slackDecisionMessage({ ...hostile, status: "denied" }, evil, evil, "https://p.example/approvals/1"),
    );
    for (const text of [request, decision]) {
      expect(text).not.toContain("<!channel>");
      expect(text).not.toContain("<https://evil");
      expect(text).toContain("&lt;!channel&gt;");
      expect(text).toContain("&amp; co");
    }
    // Every `<` left is ours: the decision message's link to the approval page.
    expect(decision.match(/</g)).toHaveLength(1);
    expect(decision).toContain("<https://p.example/approvals/1|");
    // The statement stays in one code block: the only ``` are its fences.
    const block = (slackRequestMessage(hostile, "https://x").blocks[2] as { text: { text: string } }).text
      .text;
    expect(block.match(/```/g)).toHaveLength(2);
    expect(block.startsWith("```select 1 --")).toBe(true);
    expect(block.endsWith("```")).toBe(true);
    expect(block.replaceAll("\u200b", "")).toBe(`\`\`\`${escapeMrkdwn(hostile.statement)}\`\`\``);
  });

  it("keeps a long or backtick-heavy statement's block within Slack's 3000 characters", () => {
    for (const statement of ["&".repeat(5000), "`".repeat(5000), "😀".repeat(5000)]) {
      const block = mrkdwnCodeBlock(statement, 3000);
      expect(block.length).toBeLessThanOrEqual(3000);
      expect(block.match(/```/g)).toHaveLength(2);
      expect(block.endsWith("…```")).toBe(true);
      expect(block).not.toMatch(/&(?!amp;)/); // no entity cut in half
      expect(block).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // nor a surrogate pair
    }
    expect(mrkdwnCodeBlock("select 1", 3000)).toBe("```select 1```");
  });

  it("never throws when a receiver is down", async () => {
    const notifier = createNotifier({
      publicUrl: "https://p.example",
      slackWebhookUrl: "http://127.0.0.1:9/slack",
      timeoutMs: 500,
    });
    await expect(notifier.approvalRequested(approval)).resolves.toBeUndefined();
  });
});

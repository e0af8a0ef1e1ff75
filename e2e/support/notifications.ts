// A local stand-in for Slack and a webhook consumer: the embedded demo posts approval notifications here.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export const NOTIFICATIONS_DEMO = "embedded" as const;
export const RECEIVER_PORT = 3341;
export const WEBHOOK_SECRET = "e2e-webhook-secret-0123456789";

export function notificationEnvironment(): Record<string, string> {
  return {
    SLACK_WEBHOOK_URL: `http://127.0.0.1:${RECEIVER_PORT}/slack`,
    PORTCULLIS_WEBHOOK_URL: `http://127.0.0.1:${RECEIVER_PORT}/webhook`,
    PORTCULLIS_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
}

export interface TReceived {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function startReceiver(): Promise<{ received: TReceived[]; close(): Promise<void> }> {
  const received: TReceived[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(RECEIVER_PORT, "127.0.0.1", resolve));
  return { received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

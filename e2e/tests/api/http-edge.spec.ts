// The control plane's HTTP edge as a browser or an attacker meets it: every answer carries headers that keep
// other pages from framing the dashboard, oversized bodies are refused before anything reads them (sign-in
// included, where nobody is authenticated yet), and an upgrade it cannot parse is closed, not left open.
import { once } from "node:events";
import net from "node:net";
import { expect, test } from "@playwright/test";
import { demo } from "../../support/demos.ts";

/** Sends raw bytes and collects what comes back until the server closes (or `ms` pass). */
async function raw(base: string, bytes: string, ms = 5_000): Promise<{ answer: string; closed: boolean }> {
  const url = new URL(base);
  const socket = net.connect(Number(url.port), url.hostname);
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket.write(bytes);
  const closed = await Promise.race([
    // (events.once would reject on the reset that ends a refused upload.)
    new Promise<true>((r) => socket.on("close", () => r(true))),
    new Promise<false>((r) => setTimeout(() => r(false), ms)),
  ]);
  socket.destroy();
  return { answer, closed };
}

test("security headers, bounded request bodies and unparseable upgrades", async ({ request }) => {
  const d = demo("embedded");
  for (const path of ["/login", "/api/health", "/api/v1/approvals"]) {
    const response = await request.get(`${d.dashboardUrl}${path}`);
    expect(response.headers()["x-frame-options"], path).toBe("DENY");
    expect(response.headers()["content-security-policy"], path).toContain("frame-ancestors 'none'");
    expect(response.headers()["x-content-type-options"], path).toBe("nosniff");
  }

  // Declared bodies over the limit: 413 before the body is read (none is sent here).
  const host = new URL(d.dashboardUrl).host;
  const signIn = await raw(
    d.dashboardUrl,
    `POST /api/auth/callback/credentials HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 300000000\r\n\r\n`,
  );
  expect(signIn.answer).toMatch(/^HTTP\/1\.1 413 /);
  const api = await raw(
    d.dashboardUrl,
    `POST /api/v1/access-requests HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${d.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n`,
  );
  expect(api.answer).toMatch(/^HTTP\/1\.1 413 /);

  // A streamed (chunked) body is cut off once past the limit: the connection closes with no answer.
  const chunk = "x".repeat(64 * 1024);
  const chunks = (count: number) => `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(count);
  const streamedSignIn = await raw(
    d.dashboardUrl,
    `POST /api/auth/callback/credentials HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${chunks(4)}`,
  );
  const streamedApi = await raw(
    d.dashboardUrl,
    `POST /api/v1/access-requests HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${d.adminToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks(20)}`,
  );
  expect({ signIn: streamedSignIn, api: streamedApi }).toEqual({
    signIn: { closed: true, answer: "" },
    api: { closed: true, answer: "" },
  });

  // An upgrade to a target the server cannot parse is closed at once rather than holding a socket.
  const upgrade = await raw(
    d.dashboardUrl,
    `GET // HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
  );
  expect(upgrade.closed).toBe(true);
  // And the server is as well as before.
  expect((await request.get(`${d.dashboardUrl}/api/health`)).status()).toBe(200);
});

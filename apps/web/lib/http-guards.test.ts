// The guards on a real node:http server on loopback, as server.ts wires them.
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyLimitFor, limitRequestBody, pathnameOf, securityHeaders } from "./http-guards.ts";

let server: Server;
let port = 0;
/** Bytes each handled request's body had when the handler finished reading it. */
const readBodies: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    for (const [name, value] of securityHeaders(false)) res.setHeader(name, value);
    if (!limitRequestBody(req, res, 64 * 1024)) return;
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => {
      readBodies.push(bytes);
      res.end(`read ${bytes}`);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function post(body: Buffer, chunked: boolean): Promise<{ status: number; text: string } | "reset"> {
  return new Promise((resolve) => {
    const req = request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/api/v1/grants",
      headers: chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(body.length) },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", () => resolve("reset"));
    });
    req.on("error", () => resolve("reset"));
    // Sent in 16 KB pieces, as a client streams it.
    for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
    req.end();
  });
}

describe("request body limit", () => {
  it("lets bodies within the limit through, declared or streamed", async () => {
    expect(await post(Buffer.alloc(60 * 1024), false)).toEqual({ status: 200, text: `read ${60 * 1024}` });
    expect(await post(Buffer.alloc(60 * 1024), true)).toEqual({ status: 200, text: `read ${60 * 1024}` });
  });

  it("answers 413 to a declared length over the limit, before the handler runs", async () => {
    const before = readBodies.length;
    const answer = await post(Buffer.alloc(2 * 1024 * 1024), false);
    if (answer !== "reset") expect(answer.status).toBe(413); // or reset while the client still sends
    expect(readBodies.length).toBe(before);
  });

  it("closes the connection of a streamed body once it passes the limit", async () => {
    const before = readBodies.length;
    expect(await post(Buffer.alloc(8 * 1024 * 1024), true)).toBe("reset");
    expect(readBodies.length).toBe(before);
  });

  it("limits sign-in tighter than the API, and SCIM looser", () => {
    expect(bodyLimitFor("/api/auth/callback/credentials")).toBe(64 * 1024);
    expect(bodyLimitFor("/api/trpc/approvals.decide")).toBe(1024 * 1024);
    expect(bodyLimitFor("/scim/v2/Groups/1")).toBe(4 * 1024 * 1024);
  });
});

describe("request targets and headers", () => {
  it("finds no path in a target the URL parser refuses", () => {
    const target = (url: string) => pathnameOf({ url } as never);
    expect(target("/api/health?x=1")).toBe("/api/health");
    expect(target("//")).toBeNull();
    expect(target("http://[x]/")).toBeNull();
  });

  it("sends headers that keep other pages from framing the dashboard", async () => {
    const answer = await fetch(`http://127.0.0.1:${port}/approvals/1`);
    expect(answer.headers.get("x-frame-options")).toBe("DENY");
    expect(answer.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    await answer.text();
  });
});

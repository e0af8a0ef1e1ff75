// What the control plane's HTTP server enforces before a request reaches Next.js: bounded request bodies,
// upgrades it cannot parse closed, and the response headers every page and API answer carries.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Request body limits by path prefix, first match wins. */
const BODY_LIMITS: readonly (readonly [prefix: string, bytes: number])[] = [
  // Sign-in forms and OIDC callbacks are small; next-auth reads them before anyone is authenticated.
  ["/api/auth/", 64 * 1024],
  // A SCIM group PATCH may list thousands of members.
  ["/scim/", 4 * 1024 * 1024],
];
const DEFAULT_BODY_LIMIT = 1024 * 1024;

export function bodyLimitFor(pathname: string): number {
  for (const [prefix, bytes] of BODY_LIMITS) if (pathname.startsWith(prefix)) return bytes;
  return DEFAULT_BODY_LIMIT;
}

/** The request target's path, or null when it is not a URL this server can parse ("//", "http://[x]/"). */
export function pathnameOf(req: IncomingMessage): string | null {
  try {
    return new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    return null;
  }
}

/**
 * Refuses a body over `limit` bytes: at once with 413 when Content-Length says so; while it streams
 * (chunked) by closing the connection once the limit is passed. Node's HTTP parser hands each body chunk
 * to `req.push`: counting there leaves the stream itself untouched for Next to read. Returns false when
 * the request was refused and must not be handled.
 */
export function limitRequestBody(req: IncomingMessage, res: ServerResponse, limit: number): boolean {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    res.writeHead(413, { "content-type": "application/json", connection: "close" });
    res.end(
      JSON.stringify({
        error: { code: "PAYLOAD_TOO_LARGE", message: `Request bodies are limited to ${limit} bytes` },
      }),
    );
    // Whatever of the body is already on its way is not read.
    req.socket.destroySoon();
    return false;
  }
  if (declared !== undefined) return true; // the parser stops at the declared length
  const push = req.push.bind(req);
  let received = 0;
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null && chunk !== undefined) {
      received += (chunk as Buffer).length;
      if (received > limit) {
        req.push = push;
        req.destroy(new Error(`request body over ${limit} bytes`));
        res.destroy();
        return false;
      }
    }
    return push(chunk, encoding);
  };
  return true;
}

/**
 * Headers on every response. The dashboard must not be framed by another page (an approver's click on an
 * invisible "Approve" is a decision); Next's pages need inline scripts and styles, and eval in development.
 */
export function securityHeaders(dev: boolean): [name: string, value: string][] {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${dev ? " ws: wss:" : ""}`,
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return [
    ["Content-Security-Policy", csp],
    ["X-Frame-Options", "DENY"],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "same-origin"],
    ["Cross-Origin-Opener-Policy", "same-origin"],
  ];
}

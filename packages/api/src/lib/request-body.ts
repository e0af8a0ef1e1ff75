// Request bodies read with a bound: the REST and SCIM edges never hold more than this in memory, whatever
// the client declares or streams (the web server refuses most oversized bodies earlier; this holds wherever
// the handlers are mounted).
import { AppError } from "../errors.ts";

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/** The body as UTF-8 text, or a PAYLOAD_TOO_LARGE AppError once it passes `limit` bytes (read no further). */
export async function readBodyText(request: Request, limit = MAX_JSON_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function tooLarge(limit: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `The request body is limited to ${limit} bytes`);
}

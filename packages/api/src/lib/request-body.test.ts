import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { readBodyText } from "./request-body.ts";

/** A streamed body (no Content-Length) of `chunks` chunks of `size` bytes; counts what was pulled. */
function streamed(chunks: number, size: number) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled += 1;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
  });
  const request = new Request("http://x/api/v1/grants", {
    method: "POST",
    body,
    duplex: "half",
  } as RequestInit);
  return { request, pulled: () => pulled };
}

const codeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => "OK",
    (error: unknown) => (error instanceof AppError ? error.code : String(error)),
  );

describe("readBodyText", () => {
  it("reads a body within the limit", async () => {
    const request = new Request("http://x/", { method: "POST", body: '{"reason":"ok ✓"}' });
    expect(await readBodyText(request, 100)).toBe('{"reason":"ok ✓"}');
    expect(await readBodyText(new Request("http://x/", { method: "POST" }), 100)).toBe("");
  });

  it("refuses a declared length over the limit without reading it", async () => {
    const { request, pulled } = streamed(10, 1000);
    request.headers.set("content-length", "10000");
    expect(await codeOf(readBodyText(request, 5000))).toBe("PAYLOAD_TOO_LARGE");
    expect(pulled()).toBeLessThanOrEqual(1); // a stream pulls its first chunk when it is made
  });

  it("stops reading a streamed body once it passes the limit", async () => {
    // 1,000 chunks of 64 KB would be 64 MB: reading stops after the first chunks past 256 KB.
    const { request, pulled } = streamed(1000, 64 * 1024);
    expect(await codeOf(readBodyText(request, 256 * 1024))).toBe("PAYLOAD_TOO_LARGE");
    expect(pulled()).toBeLessThan(10);
  });
});

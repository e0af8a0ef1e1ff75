import { describe, expect, it } from "vitest";
import { safeCallbackUrl } from "./callback-url.ts";

const PUBLIC_URL = "https://portcullis.example.com";

describe("safeCallbackUrl", () => {
  it("keeps paths of the dashboard, with their query and fragment", () => {
    expect(safeCallbackUrl("/approvals/123", PUBLIC_URL)).toBe("/approvals/123");
    expect(safeCallbackUrl("/timeline?q=drop#top", PUBLIC_URL)).toBe("/timeline?q=drop#top");
    // next-auth sends the callback back as an absolute URL of the dashboard after a failed SSO.
    expect(safeCallbackUrl(`${PUBLIC_URL}/sessions`, PUBLIC_URL)).toBe("/sessions");
    expect(safeCallbackUrl(["/grants", "/other"], PUBLIC_URL)).toBe("/grants");
  });

  it("sends anything that would leave the dashboard to the timeline", () => {
    for (const hostile of [
      "https://evil.example/phish",
      "//evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "/\t/evil.example", // browsers drop the tab: //evil.example
      "/\n/evil.example",
      " //evil.example",
      "javascript:alert(1)",
      `${PUBLIC_URL}//evil.example`,
      "https://portcullis.example.com.evil.example/",
      "http://portcullis.example.com/timeline", // another origin (scheme)
      "http://[x]/",
      "",
    ])
      expect({ hostile, to: safeCallbackUrl(hostile, PUBLIC_URL) }).toEqual({ hostile, to: "/timeline" });
    expect(safeCallbackUrl(undefined, PUBLIC_URL)).toBe("/timeline");
  });
});

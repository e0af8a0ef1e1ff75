// @portcullis/policy: pure policy engine. SQL + context in, decision out. No I/O.
export * from "./analyze.ts";
export * from "./guardrails.ts";
export * from "./decision-cache.ts";
export * from "./masking.ts";
export * from "./detectors.ts";
export * from "./discovery.ts";

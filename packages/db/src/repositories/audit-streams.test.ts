import { describe, expect, it } from "vitest";
import { redactedStreamUrl } from "./audit-streams.ts";

describe("redactedStreamUrl", () => {
  it("keeps the origin and the path's words", () => {
    expect(redactedStreamUrl("https://hec.example.com:8088/services/collector/event?token=abc")).toBe(
      "https://hec.example.com:8088/services/collector/event",
    );
    expect(redactedStreamUrl("https://http-intake.logs.datadoghq.eu/api/v2/logs")).toBe(
      "https://http-intake.logs.datadoghq.eu/api/v2/logs",
    );
    expect(redactedStreamUrl("https://es.internal:9200/portcullis-audit/_doc")).toBe(
      "https://es.internal:9200/portcullis-audit/_doc",
    );
  });

  it("hides keys carried in the path, the query or the user info", () => {
    expect(
      redactedStreamUrl(
        "https://endpoint4.collection.sumologic.com/receiver/v1/http/ZaVnC4dhaV3_SECRETTOKEN",
      ),
    ).toBe("https://endpoint4.collection.sumologic.com/receiver/v1/http/…");
    expect(redactedStreamUrl("https://collector.example/in/3f9a1c0e7b2d4a58")).toBe(
      "https://collector.example/in/…",
    );
    expect(redactedStreamUrl("https://user:hunter2@collector.example/ingest?key=k")).toBe(
      "https://collector.example/ingest",
    );
  });
});

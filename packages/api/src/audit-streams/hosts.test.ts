import { describe, expect, it } from "vitest";
import { parseStreamHostList, streamHostAllowed } from "./hosts.ts";

describe("audit stream host list", () => {
  const hosts = ["collector.corp.example", "*.splunkcloud.com", "10.0.0.5", "[::1]"];

  it("allows exact hosts, subdomains of a wildcard, and IP literals", () => {
    expect(streamHostAllowed("https://collector.corp.example/hec", hosts)).toBe(true);
    expect(streamHostAllowed("https://COLLECTOR.corp.example:8088/x", hosts)).toBe(true);
    expect(streamHostAllowed("https://collector.corp.example./x", hosts)).toBe(true);
    expect(streamHostAllowed("https://acme.splunkcloud.com/x", hosts)).toBe(true);
    expect(streamHostAllowed("https://a.b.splunkcloud.com/x", hosts)).toBe(true);
    expect(streamHostAllowed("http://10.0.0.5:9000/", hosts)).toBe(true);
    expect(streamHostAllowed("http://[::1]:9000/", hosts)).toBe(true);
  });

  it("refuses everything else, including look-alikes", () => {
    expect(streamHostAllowed("https://splunkcloud.com/x", hosts)).toBe(false);
    expect(streamHostAllowed("https://evilsplunkcloud.com/x", hosts)).toBe(false);
    expect(streamHostAllowed("https://collector.corp.example.evil.test/x", hosts)).toBe(false);
    expect(streamHostAllowed("http://127.0.0.1:5432/", hosts)).toBe(false);
    expect(streamHostAllowed("http://169.254.169.254/latest/meta-data", hosts)).toBe(false);
    expect(streamHostAllowed("not a url", hosts)).toBe(false);
    expect(streamHostAllowed("http://127.0.0.1/", [])).toBe(false);
  });

  it("holds an entry with a port to that port, the scheme's default when the URL names none", () => {
    const ported = ["collector.corp.example:8088", "*.splunkcloud.com:443", "[::1]:9000"];
    expect(streamHostAllowed("https://collector.corp.example:8088/hec", ported)).toBe(true);
    expect(streamHostAllowed("https://collector.corp.example/hec", ported)).toBe(false);
    expect(streamHostAllowed("https://collector.corp.example:22/", ported)).toBe(false);
    expect(streamHostAllowed("https://acme.splunkcloud.com/x", ported)).toBe(true);
    expect(streamHostAllowed("http://acme.splunkcloud.com/x", ported)).toBe(false);
    expect(streamHostAllowed("http://[::1]:9000/", ported)).toBe(true);
    expect(streamHostAllowed("http://[::1]:9001/", ported)).toBe(false);
  });

  it("allows every host when no list is set", () => {
    expect(streamHostAllowed("http://127.0.0.1:9/", undefined)).toBe(true);
  });

  it("parses the setting and names what it cannot read", () => {
    expect(parseStreamHostList(" Collector.corp.example, *.splunkcloud.com ,,10.0.0.5")).toEqual({
      ok: true,
      hosts: ["collector.corp.example", "*.splunkcloud.com", "10.0.0.5"],
    });
    expect(parseStreamHostList("https://x.example, a b")).toEqual({
      ok: false,
      error:
        "not host names, IP addresses or *.domain patterns (with an optional :port): https://x.example, a b",
    });
  });
});

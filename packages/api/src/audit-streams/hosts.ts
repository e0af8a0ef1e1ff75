// Which hosts audit streams may send to. An operator's setting (PORTCULLIS_AUDIT_STREAM_HOSTS), not an admin's:
// a stream posts every event to its URL and shows the first characters of a refusal on the Streams page, so
// without a list a dashboard admin could point one at an internal service and read its answers.

/**
 * Entries are host names or IP literals, or `*.example.com` for any host below example.com, each with an
 * optional `:port` (without one, any port of that host). Names are not resolved: a wildcard also covers
 * whatever internal names its zone has.
 */
export function parseStreamHostList(
  text: string,
): { ok: true; hosts: string[] } | { ok: false; error: string } {
  const hosts = text
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  const bad = hosts.filter(
    (h) => !/^((\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:\d{1,5})?$/.test(h),
  );
  if (bad.length > 0)
    return {
      ok: false,
      error: `not host names, IP addresses or *.domain patterns (with an optional :port): ${bad.join(", ")}`,
    };
  return { ok: true, hosts };
}

function splitPort(entry: string): { host: string; port: string | null } {
  if (entry.startsWith("[")) {
    const end = entry.indexOf("]");
    const rest = entry.slice(end + 1);
    return { host: entry.slice(0, end + 1), port: rest.startsWith(":") ? rest.slice(1) : null };
  }
  const match = /^(.*?)(?::(\d+))?$/.exec(entry);
  return { host: match?.[1] ?? entry, port: match?.[2] ?? null };
}

/** Whether a stream's URL may be used; every host when there is no list (undefined). */
export function streamHostAllowed(url: string, hosts: readonly string[] | undefined): boolean {
  if (hosts === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  // A trailing dot names the same host; do not let it slip past an exact entry's comparison.
  const hostname = parsed.hostname.toLowerCase().replace(/\.$/, "");
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  return hosts.some((entry) => {
    const allowed = splitPort(entry);
    if (allowed.port !== null && allowed.port !== port) return false;
    return allowed.host.startsWith("*.")
      ? hostname.endsWith(allowed.host.slice(1))
      : hostname === allowed.host;
  });
}

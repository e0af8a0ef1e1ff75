// Which hosts audit streams may send to. An operator's setting (PORTCULLIS_AUDIT_STREAM_HOSTS), not an admin's:
// a stream posts every event to its URL and shows the first characters of a refusal on the Streams page, so
// without a list a dashboard admin could point one at an internal service and read its answers.

/** Entries are host names or IP literals, or `*.example.com` for any host below example.com. */
export function parseStreamHostList(
  text: string,
): { ok: true; hosts: string[] } | { ok: false; error: string } {
  const hosts = text
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  const bad = hosts.filter((h) => !/^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$|^\[[0-9a-f:.]+\]$/.test(h));
  if (bad.length > 0)
    return { ok: false, error: `not host names, IP addresses or *.domain patterns: ${bad.join(", ")}` };
  return { ok: true, hosts };
}

/** Whether a stream's URL may be used; every host when there is no list (undefined). */
export function streamHostAllowed(url: string, hosts: readonly string[] | undefined): boolean {
  if (hosts === undefined) return true;
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  // A trailing dot names the same host; do not let it slip past an exact entry's comparison.
  if (hostname.endsWith(".")) hostname = hostname.slice(0, -1);
  return hosts.some((h) => (h.startsWith("*.") ? hostname.endsWith(h.slice(1)) : hostname === h));
}

// Where sign-in sends the person afterwards: only a path of this dashboard, so a crafted link cannot turn
// sign-in into a redirector to a look-alike site.

const DEFAULT_AFTER_SIGN_IN = "/timeline";

/**
 * `value` resolved against the dashboard's public URL as a browser would (which drops tabs and newlines, so
 * "/\t/evil.example" is "//evil.example"), kept only when it stays on the dashboard's origin; the path,
 * query and fragment are returned, never an absolute or protocol-relative URL.
 */
export function safeCallbackUrl(value: string | string[] | undefined, publicUrl: string): string {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return DEFAULT_AFTER_SIGN_IN;
  const base = new URL(publicUrl);
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return DEFAULT_AFTER_SIGN_IN;
  }
  if (url.origin !== base.origin) return DEFAULT_AFTER_SIGN_IN;
  // "https://dashboard//evil.example" keeps the origin but its path would read as protocol-relative.
  if (url.pathname.startsWith("//")) return DEFAULT_AFTER_SIGN_IN;
  return `${url.pathname}${url.search}${url.hash}`;
}

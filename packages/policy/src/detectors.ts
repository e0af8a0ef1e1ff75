// Content detectors: find sensitive values inside arbitrary text (a result cell, an error message, a
// notice). They are the second line of defence behind column masking, so they run on the hot path and
// must hold against hostile text. Two rules keep them fast and safe:
//  - a one-pass profile of the text (digit count, '@', '$', ':' ...) skips detectors that cannot match;
//  - no regex can backtrack catastrophically: every candidate regex either starts behind a lookbehind
//    boundary with bounded quantifiers, or matches a maximal run once; candidates are then validated in
//    code (Luhn, mod-97, SSN area rules, JWT header JSON), never by a cleverer regex.
import { z } from "zod";

export const DETECTOR_IDS = [
  "email",
  "phone",
  "us_ssn",
  "payment_card",
  "iban",
  "ip_address",
  "jwt",
  "private_key",
  "cloud_key",
  "api_key",
  "password_hash",
] as const;
export const ZDetectorId = z.enum(DETECTOR_IDS);
export type TDetectorId = z.infer<typeof ZDetectorId>;

export const ZDetection = z.object({
  detector: ZDetectorId,
  /** UTF-16 offsets into the scanned text, end exclusive. */
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  confidence: z.number().min(0).max(1),
});
export type TDetection = z.infer<typeof ZDetection>;

export const ZDetectOptions = z.object({
  /**
   * Name of the column the text came from. It loosens formats that are ambiguous on their own: a bare
   * 9-digit number is an SSN only in an ssn-like column, a bare 10-digit number a phone only in a
   * phone-like one, an unprefixed high-entropy string a secret only in a token/secret-like one.
   */
  columnHint: z.string().optional(),
  /** Run only these detectors (default: all). */
  detectors: z.array(ZDetectorId).optional(),
  /** Drop detections below this confidence (default 0: keep all). */
  minConfidence: z.number().min(0).max(1).optional(),
});
export type TDetectOptions = z.infer<typeof ZDetectOptions>;

// ---------------------------------------------------------------------------------------------------
// Text profile: one pass over the text decides which detectors can possibly match.

interface TProfile {
  digits: number;
  at: boolean;
  dollar: boolean;
  colons: number;
  dots: number;
  upper: boolean;
  dashOrUnderscore: boolean;
}

function profileOf(text: string): TProfile {
  let digits = 0;
  let colons = 0;
  let dots = 0;
  let at = false;
  let dollar = false;
  let upper = false;
  let dashOrUnderscore = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c === 64) at = true;
    else if (c === 36) dollar = true;
    else if (c === 58) colons++;
    else if (c === 46) dots++;
    else if (c === 45 || c === 95) dashOrUnderscore = true;
  }
  return { digits, at, dollar, colons, dots, upper, dashOrUnderscore };
}

// ---------------------------------------------------------------------------------------------------
// Small helpers.

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isWord = (c: number) => isDigit(c) || isAlpha(c) || c === 95;

function charTable(chars: string, ranges = true): Uint8Array {
  const table = new Uint8Array(128);
  if (ranges) {
    for (let c = 48; c <= 57; c++) table[c] = 1;
    for (let c = 65; c <= 90; c++) table[c] = 1;
    for (let c = 97; c <= 122; c++) table[c] = 1;
  }
  for (const ch of chars) table[ch.charCodeAt(0)] = 1;
  return table;
}
const inTable = (table: Uint8Array, c: number) => c < 128 && table[c] === 1;

/** Lower-case identifier tokens: `socialSecurityNumber` → social, security, number; `address_line1` → address, line, 1. */
export function splitIdentifier(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/([A-Za-z])([0-9])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0);
}

interface THints {
  readonly ssn: boolean;
  readonly phone: boolean;
  readonly secret: boolean;
}

const NO_HINTS: THints = Object.freeze({ ssn: false, phone: false, secret: false });
// Per column name, not per value: detect() runs once per scanned result cell, and splitting the name costs
// more than scanning a short value. Bounded; a column name is short.
const hintsByColumn = new Map<string, THints>();

function hintsOf(columnHint: string | undefined): THints {
  if (!columnHint) return NO_HINTS;
  let hints = hintsByColumn.get(columnHint);
  if (!hints) {
    if (hintsByColumn.size >= 1024) hintsByColumn.clear();
    hints = Object.freeze(hintsFromName(columnHint));
    hintsByColumn.set(columnHint, hints);
  }
  return hints;
}

function hintsFromName(columnHint: string): THints {
  const tokens = splitIdentifier(columnHint);
  const has = (t: string) => tokens.includes(t);
  return {
    ssn: has("ssn") || (has("social") && has("security")),
    phone: ["phone", "telephone", "tel", "mobile", "cell", "cellphone", "msisdn", "fax", "phonenumber"].some(
      has,
    ),
    secret:
      ["token", "secret", "apikey", "password", "passwd", "credential", "credentials"].some(has) ||
      (has("key") && ["api", "access", "secret", "private", "signing"].some(has)),
  };
}

/** Does one of the `window` characters before `start` match `re` (a keyword that names the value)? */
function contextBefore(text: string, start: number, re: RegExp, window = 40): boolean {
  return re.test(text.slice(Math.max(0, start - window), start));
}

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Module-level regexes are reused (detect is synchronous, so no two scans share one at a time); only
 * their cursor is reset. Saves allocating a dozen RegExp objects per result cell.
 */
function rearm(re: RegExp, at = 0): RegExp {
  re.lastIndex = at;
  return re;
}

type TSink = (detector: TDetectorId, start: number, end: number, confidence: number) => void;

// ---------------------------------------------------------------------------------------------------
// email: anchored on each '@' and expanded by hand (a regex like `[\w.]+@` is quadratic on long runs).

const LOCAL_CHARS = charTable("._%+-'!#&*=?^`{|}~");
const DOMAIN_CHARS = charTable(".-");
// "icon@2x.png" is a file name, not an address.
const FILE_TLDS = new Set([
  "png",
  "jpg",
  "jpeg",
  "gif",
  "svg",
  "webp",
  "css",
  "js",
  "ico",
  "bmp",
  "tif",
  "tiff",
]);

function validDomain(domain: string): string | null {
  const labels = domain.split(".");
  if (labels.length < 2) return null;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith("-") || label.endsWith("-")) return null;
  }
  const tld = labels[labels.length - 1]!.toLowerCase();
  if (!/^(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})$/.test(tld) || FILE_TLDS.has(tld)) return null;
  return tld;
}

function findEmails(text: string, emit: TSink): void {
  let at = text.indexOf("@");
  while (at !== -1) {
    let start = at;
    while (start > 0 && at - start < 64 && inTable(LOCAL_CHARS, text.charCodeAt(start - 1))) start--;
    while (start < at && text.charCodeAt(start) === 46) start++; // a leading '.' ends a sentence, not a name
    let end = at + 1;
    while (end < text.length && end - at <= 253 && inTable(DOMAIN_CHARS, text.charCodeAt(end))) end++;
    while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end--;
    const localOk = start < at && text.charCodeAt(at - 1) !== 46;
    if (localOk && validDomain(text.slice(at + 1, end)) !== null) {
      emit("email", start, end, 0.95);
      at = text.indexOf("@", end);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// phone: a loose candidate regex, then a whitelist of formats. Anything not in the list (dates, times,
// versions, amounts, ids) is not a phone.

const PHONE_CANDIDATE =
  /(?<![\w+\-./])(?:\+[1-9]\d{6,14}(?!\d)|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,15}(?:[ .-]\d{1,10}){0,5})/g;
const NANP_PARENS = /^(?:\+?1[ .-]?)?\(([2-9]\d\d)\)[ .-]?\d{3}[ .-]\d{4}$/;
const NANP_SEPARATED = /^(?:1([ .-]))?([2-9]\d\d)([.-])\d{3}\3\d{4}$/;
const NANP_SPACED = /^[2-9]\d\d \d{3} \d{4}$/;
const TRUNK_PREFIXED = /^0\d{1,4}[ .-]\d{3,4}[ .-]?\d{3,4}$/; // UK/EU national: 020 7946 0958, 07700 900123
const PHONE_CONTEXT = /(?:phone|tel|mobile|cell|fax|call|whatsapp|sms)\W{0,4}$/i;

function phoneConfidence(candidate: string, hinted: boolean): number {
  let digits = 0;
  for (let i = 0; i < candidate.length; i++) if (isDigit(candidate.charCodeAt(i))) digits++;
  if (digits < 7 || digits > 15) return 0;
  if (candidate.startsWith("+")) {
    if (digits < 8) return 0;
    // Every +1 number is NANP: exactly 11 digits.
    if (candidate.startsWith("+1") && digits !== 11) return 0;
    return 0.9;
  }
  if (NANP_PARENS.test(candidate)) return 0.85;
  if (NANP_SEPARATED.test(candidate)) return 0.75;
  if (NANP_SPACED.test(candidate)) return 0.6;
  if (TRUNK_PREFIXED.test(candidate) && digits >= 10 && digits <= 11) return 0.55;
  if (hinted && digits >= 7 && /^[\d ().-]+$/.test(candidate)) return 0.6;
  return 0;
}

function findPhones(text: string, hints: THints, emit: TSink): void {
  const re = rearm(PHONE_CANDIDATE);
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    const next = text.charCodeAt(end);
    const after = text.charCodeAt(end + 1);
    // A candidate cut short by the length bounds is part of something longer (a card, an id, a date-time).
    const truncated = isWord(next) || ((next === 46 || next === 45) && isDigit(after));
    const confidence = truncated
      ? 0
      : phoneConfidence(m[0], hints.phone || contextBefore(text, start, PHONE_CONTEXT, 16));
    if (confidence > 0) emit("phone", start, end, confidence);
    else re.lastIndex = start + 1; // the greedy candidate may have swallowed the start of a real one
  }
}

// ---------------------------------------------------------------------------------------------------
// us_ssn and payment_card share one scan over digit clusters (groups of digits joined by single spaces
// or dashes). The regex matches each maximal cluster once, so it is linear on any input.

const DIGIT_CLUSTER = /\d+(?:[ -]\d+)*/g;
const SSN_CONTEXT = /(?:ssn|social.?security|sozialversicherung)\W{0,4}$/i;

function validSsn(area: string, group: string, serial: string): boolean {
  return area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000";
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const between = (v: number, lo: number, hi: number) => v >= lo && v <= hi;

/** Issuer (IIN) ranges with their lengths; a Luhn-valid number outside every range is not a card. */
export function cardBrand(digits: string): string | null {
  const len = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === "4" && (len === 13 || len === 16 || len === 19)) return "visa";
  if ((between(p2, 51, 55) || between(p4, 2221, 2720)) && len === 16) return "mastercard";
  if ((p2 === 34 || p2 === 37) && len === 15) return "amex";
  if (
    (p4 === 6011 || between(p3, 644, 649) || p2 === 65 || between(p6, 622126, 622925)) &&
    between(len, 16, 19)
  )
    return "discover";
  if (between(p4, 3528, 3589) && between(len, 16, 19)) return "jcb";
  if ((between(p3, 300, 305) || p2 === 36 || p2 === 38 || p2 === 39) && between(len, 14, 19)) return "diners";
  if (p2 === 62 && between(len, 16, 19)) return "unionpay";
  if (between(p4, 2200, 2204) && between(len, 16, 19)) return "mir";
  if ((p2 === 50 || between(p2, 56, 58) || p2 === 63 || p2 === 67) && between(len, 13, 19)) return "maestro";
  return null;
}

function findDigitClusters(
  text: string,
  hints: THints,
  wantSsn: boolean,
  wantCard: boolean,
  emit: TSink,
): void {
  const re = rearm(DIGIT_CLUSTER);
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const cluster = m[0];
    const base = m.index;
    if (cluster.length < 9) continue; // shortest: a bare 9-digit SSN
    // Group g spans [starts[g], ends[g]); the separator after it is text[ends[g]].
    const starts: number[] = [];
    const ends: number[] = [];
    let groupStart = 0;
    for (let i = 0; i <= cluster.length; i++) {
      if (i === cluster.length || !isDigit(cluster.charCodeAt(i))) {
        starts.push(base + groupStart);
        ends.push(base + i);
        groupStart = i + 1;
      }
    }
    const before = text.charCodeAt(base - 1);
    const after = text.charCodeAt(base + cluster.length);
    const afterNext = text.charCodeAt(base + cluster.length + 1);
    // Inside a word, a decimal, a version or a '+' phone number: the first/last group cannot start/end a match.
    // Commas do not block: row and array literals separate fields with them, "(078-05-1120,4111...)".
    const leftBlocked = isAlpha(before) || before === 95 || before === 46 || before === 43 || before === 36;
    const rightBlocked = isAlpha(after) || after === 95 || (after === 46 && isDigit(afterNext));
    const last = starts.length - 1;

    for (let i = 0; i <= last; i++) {
      if (i === 0 && leftBlocked) continue;
      const start = starts[i]!;
      const firstLen = ends[i]! - start;
      const sep = i < last ? text.charCodeAt(ends[i]!) : 0;
      const sepBefore = i > 0 ? text.charCodeAt(start - 1) : -1;
      let digits = 0;
      // At most 5 groups (4-4-4-4-3) and 19 digits: bounded work per group on any input.
      for (let j = i; j <= last && j - i < 5; j++) {
        digits += ends[j]! - starts[j]!;
        if (digits > 19) break;
        if (j > i && text.charCodeAt(ends[j - 1]!) !== sep) break; // one separator style per value
        if (j === last && rightBlocked) continue;
        const end = ends[j]!;
        const sepAfterEnd = j < last ? text.charCodeAt(end) : -1;
        const single = i === j;
        // A neighbour joined by the same separator ("1-078-05-1120-9") makes this part of a longer number.
        const joined = single
          ? sepBefore === 45 || sepAfterEnd === 45
          : sepBefore === sep || sepAfterEnd === sep;

        if (wantSsn && j - i === 2 && firstLen === 3 && digits === 9 && ends[i + 1]! - starts[i + 1]! === 2) {
          const value = text.slice(start, end);
          if (!(joined && sep === 45) && validSsn(value.slice(0, 3), value.slice(4, 6), value.slice(7, 11))) {
            emit("us_ssn", start, end, joined ? 0.6 : 0.85);
          }
        }
        if (wantSsn && single && digits === 9 && !joined) {
          const value = text.slice(start, end);
          const hinted = hints.ssn || contextBefore(text, start, SSN_CONTEXT, 24);
          if (hinted && validSsn(value.slice(0, 3), value.slice(3, 5), value.slice(5, 9)))
            emit("us_ssn", start, end, 0.7);
        }
        if (wantCard && digits >= 13) {
          // Printed cards group as 4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3; odd groupings are other numbers.
          let plausible = single || firstLen === 4;
          for (let g = i + 1; plausible && g <= j; g++) {
            const len = ends[g]! - starts[g]!;
            if (len < 3 || len > 6) plausible = false;
          }
          if (plausible) {
            const compact = single ? text.slice(start, end) : text.slice(start, end).replace(/[ -]/g, "");
            if (luhn(compact) && cardBrand(compact) !== null) {
              const confidence = single ? 0.85 : 0.95;
              emit("payment_card", start, end, joined ? confidence - 0.15 : confidence);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// iban: ISO 13616, country length table + mod-97.

const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};
const IBAN_CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;

function ibanChecksumOk(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (isDigit(c)) rest = (rest * 10 + (c - 48)) % 97;
    else rest = (rest * 100 + (c - 55)) % 97; // A=10 ... Z=35
  }
  return rest === 1;
}

function findIbans(text: string, emit: TSink): void {
  const re = rearm(IBAN_CANDIDATE);
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const expected = IBAN_LENGTHS[m[0].slice(0, 2)];
    let end = -1;
    if (expected !== undefined) {
      // The candidate may run on into the next word: cut it at the country's length.
      let count = 0;
      for (let i = 0; i < m[0].length; i++) {
        if (m[0][i] !== " ") count++;
        if (count === expected) {
          end = start + i + 1;
          break;
        }
      }
    }
    const compact = end === -1 ? "" : text.slice(start, end).replace(/ /g, "");
    if (end !== -1 && !isWord(text.charCodeAt(end)) && ibanChecksumOk(compact)) {
      emit("iban", start, end, 0.95);
      re.lastIndex = end;
    } else {
      re.lastIndex = start + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// ip_address: IPv4 by regex (bounded alternations), IPv6 by candidate regex + a real parser.

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?:/(?:3[0-2]|[12]?\\d))?(?!\\w|\\.\\d)`, "g");
const IPV4_EXACT = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV6_CANDIDATE =
  /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[0-9A-Za-z]{1,15})?/g;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIpv6(candidate: string): boolean {
  const value = candidate.split("%")[0]!;
  if (value === "::1") return true;
  if (value.length < 6) return false; // "a::b" is more likely code than an address
  let groups = value;
  let extra = 0;
  const lastColon = value.lastIndexOf(":");
  if (value.slice(lastColon + 1).includes(".")) {
    if (!IPV4_EXACT.test(value.slice(lastColon + 1))) return false;
    groups = value.slice(0, lastColon + 1) + "0"; // the dotted quad stands for two groups
    extra = 1;
  }
  const halves = groups.split("::");
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  let count = extra;
  let nonEmpty = 0;
  for (const part of parts) {
    for (const g of part) {
      if (!HEX_GROUP.test(g)) return false;
      count++;
      nonEmpty++;
    }
  }
  if (nonEmpty < 2) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

function findIps(text: string, profile: TProfile, emit: TSink): void {
  if (profile.dots >= 3) {
    const re = rearm(IPV4);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      // "1.2.3.4" is as often a version number as an address.
      const small = m[0]
        .split("/")[0]!
        .split(".")
        .every((o) => o.length === 1);
      emit("ip_address", m.index, m.index + m[0].length, small ? 0.6 : 0.85);
    }
  }
  if (profile.colons >= 2) {
    const re = rearm(IPV6_CANDIDATE);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const end = m.index + m[0].length;
      const next = text.charCodeAt(end);
      if (isWord(next) || next === 58 || !isIpv6(m[0])) continue;
      emit("ip_address", m.index, end, 0.85);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// jwt: three base64url parts whose header decodes to JSON naming an "alg".

const JWT_CANDIDATE = /(?<![A-Za-z0-9_\-.])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

function decodeJsonPart(part: string): unknown {
  if (part.length > 4096) return null;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as unknown;
  } catch {
    return null;
  }
}

function findJwts(text: string, emit: TSink): void {
  const re = rearm(JWT_CANDIDATE);
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const end = m.index + m[0].length;
    if (isWord(text.charCodeAt(end)) || text.charCodeAt(end) === 45) continue;
    const [header, payload] = m[0].split(".");
    const h = decodeJsonPart(header!);
    if (typeof h !== "object" || h === null || typeof (h as { alg?: unknown }).alg !== "string") continue;
    const p = decodeJsonPart(payload!);
    emit("jwt", m.index, end, typeof p === "object" && p !== null ? 0.99 : 0.9);
  }
}

// ---------------------------------------------------------------------------------------------------
// private_key: PEM blocks (also with escaped "\n" as in JSON), including truncated ones.

const PEM_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g;
// "*" too, so an already-masked truncated key is masked to itself.
const PEM_BODY = charTable("+/=\\ \r\n\t:-,*");

function findPrivateKeys(text: string, emit: TSink): void {
  let at = text.indexOf("-----BEGIN ");
  while (at !== -1) {
    const begin = rearm(PEM_BEGIN);
    begin.lastIndex = at;
    const head = begin.exec(text);
    if (!head) {
      at = text.indexOf("-----BEGIN ", at + 1);
      continue;
    }
    const end = rearm(PEM_END);
    end.lastIndex = at + head[0].length;
    const tail = end.exec(text);
    let stop: number;
    if (tail) {
      stop = tail.index + tail[0].length;
    } else {
      // Truncated (a cut-off notice, a column limit): hide the rest of the base64 body.
      stop = at + head[0].length;
      while (stop < text.length && inTable(PEM_BODY, text.charCodeAt(stop))) stop++;
    }
    emit("private_key", at, stop, 0.99);
    at = text.indexOf("-----BEGIN ", stop);
  }
}

// ---------------------------------------------------------------------------------------------------
// cloud_key and api_key: fixed token shapes first, then keyword-hinted high-entropy strings.

interface TTokenPattern {
  detector: TDetectorId;
  re: RegExp;
  confidence: number;
  /** Cheap substring that must occur for the regex to be worth running. */
  needle?: string;
  /** Capture group holding the secret (default: the whole match). */
  group?: number;
  /** Extra check on the matched secret. */
  check?: (value: string) => boolean;
}

const mixedCase = (v: string) => /[0-9]/.test(v) && /[A-Z]/.test(v) && /[a-z]/.test(v);

const TOKEN_PATTERNS: TTokenPattern[] = [
  // AWS access key ids: long-term (AKIA), temporary (ASIA) and the other documented principal prefixes.
  {
    detector: "cloud_key",
    re: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    confidence: 0.95,
    needle: "A",
  },
  {
    detector: "cloud_key",
    re: /(?<![A-Za-z0-9])(?:ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    confidence: 0.85,
    needle: "A",
  },
  {
    detector: "cloud_key",
    re: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g,
    confidence: 0.95,
    needle: "AIza",
  },
  {
    detector: "cloud_key",
    re: /AccountKey=([A-Za-z0-9+/]{86}==)/g,
    confidence: 0.97,
    needle: "AccountKey=",
    group: 1,
  },
  {
    detector: "cloud_key",
    re: /SharedAccessKey=([A-Za-z0-9+/]{43}=)/g,
    confidence: 0.95,
    needle: "SharedAccessKey=",
    group: 1,
  },
  {
    detector: "cloud_key",
    re: /[?&;]sig=([A-Za-z0-9%+/=]{20,200})/g,
    confidence: 0.85,
    needle: "sig=",
    group: 1,
  },
  // Stripe and look-alikes: sk_live_, rk_live_, pk_live_, ..._test_.
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])[sr]k_live_[A-Za-z0-9]{10,247}(?![A-Za-z0-9_])/g,
    confidence: 0.98,
    needle: "_live_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])[sr]k_test_[A-Za-z0-9]{10,247}(?![A-Za-z0-9_])/g,
    confidence: 0.9,
    needle: "_test_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])pk_live_[A-Za-z0-9]{10,247}(?![A-Za-z0-9_])/g,
    confidence: 0.8,
    needle: "pk_live_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])whsec_[A-Za-z0-9]{24,128}(?![A-Za-z0-9_])/g,
    confidence: 0.9,
    needle: "whsec_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])[a-z]{1,20}_live_[A-Za-z0-9]{16,247}(?![A-Za-z0-9_])/g,
    confidence: 0.85,
    needle: "_live_",
  },
  // GitHub, GitLab, Slack, npm, SendGrid, OpenAI/Anthropic-style keys.
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,255}(?![A-Za-z0-9_])/g,
    confidence: 0.98,
    needle: "_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,255}(?![A-Za-z0-9_])/g,
    confidence: 0.98,
    needle: "github_pat_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_-]{20,64}(?![A-Za-z0-9_-])/g,
    confidence: 0.95,
    needle: "glpat-",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_-])xox[abposr]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9_-])/g,
    confidence: 0.95,
    needle: "xox",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g,
    confidence: 0.95,
    needle: "npm_",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_.])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
    confidence: 0.95,
    needle: "SG.",
  },
  {
    detector: "api_key",
    re: /(?<![A-Za-z0-9_-])sk-(?:proj-|ant-[a-z0-9]{2,10}-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
    confidence: 0.9,
    needle: "sk-",
    check: mixedCase,
  },
  {
    detector: "api_key",
    re: /\bBearer[ \t]{1,4}([A-Za-z0-9._~+/-]{20,1024}=*)/gi,
    confidence: 0.85,
    needle: "earer",
    group: 1,
  },
];

const AWS_SECRET = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const AWS_SECRET_CONTEXT = /(?:aws|secret_?access_?key)/i;
// '=' only as padding, so "api_key=<token>" splits into name and token.
const HIGH_ENTROPY = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,512}={0,2}(?![A-Za-z0-9+/=_-])/g;
const SECRET_KEYWORD =
  /(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|pwd|auth|bearer|credential|access[_-]?key|private[_-]?key|signature)/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function findTokens(text: string, wanted: (d: TDetectorId) => boolean, hints: THints, emit: TSink): void {
  for (const p of TOKEN_PATTERNS) {
    if (!wanted(p.detector) || (p.needle && !text.includes(p.needle))) continue;
    const re = rearm(p.re);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const value = p.group ? m[p.group]! : m[0];
      const start = m.index + (p.group ? m[0].lastIndexOf(value) : 0);
      if (p.check && !p.check(value)) continue;
      emit(p.detector, start, start + value.length, p.confidence);
    }
  }
  if (text.length < 32) return;
  if (wanted("cloud_key") && AWS_SECRET_CONTEXT.test(text)) {
    const re = rearm(AWS_SECRET);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const inContext = contextBefore(text, m.index, AWS_SECRET_CONTEXT, 60) || hints.secret;
      if (inContext && mixedCase(m[0]) && entropy(m[0]) >= 4)
        emit("cloud_key", m.index, m.index + m[0].length, 0.85);
    }
  }
  if (wanted("api_key") && (hints.secret || SECRET_KEYWORD.test(text))) {
    const re = rearm(HIGH_ENTROPY);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const value = m[0];
      if (!/[0-9]/.test(value) || !/[A-Za-z]/.test(value)) continue;
      if (!hints.secret && (UUID.test(value) || !contextBefore(text, m.index, SECRET_KEYWORD, 48))) continue;
      const hex = /^[0-9a-fA-F]+$/.test(value);
      if (entropy(value) >= (hex ? 3 : 3.5)) emit("api_key", m.index, m.index + value.length, 0.7);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// password_hash: modular-crypt and Postgres formats.

const HASH_PATTERNS: { re: RegExp; confidence: number; needle: string }[] = [
  { re: /\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}(?![./A-Za-z0-9])/g, confidence: 0.99, needle: "$2" },
  {
    re: /\$argon2(?:id|i|d)\$(?:v=\d{1,3}\$)?m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,256}/g,
    confidence: 0.99,
    needle: "$argon2",
  },
  {
    re: /\$scrypt\$ln=\d{1,2},r=\d{1,3},p=\d{1,3}\$[A-Za-z0-9+/.=]{8,128}\$[A-Za-z0-9+/.=]{16,256}/g,
    confidence: 0.98,
    needle: "$scrypt$",
  },
  { re: /\$7\$[./A-Za-z0-9]{11,64}\$[./A-Za-z0-9]{43}(?![./A-Za-z0-9])/g, confidence: 0.97, needle: "$7$" },
  {
    re: /\$y\$[./A-Za-z0-9]{1,32}\$[./A-Za-z0-9]{1,86}\$[./A-Za-z0-9]{43}(?![./A-Za-z0-9])/g,
    confidence: 0.97,
    needle: "$y$",
  },
  {
    re: /\$[56]\$(?:rounds=\d{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}(?![./A-Za-z0-9])/g,
    confidence: 0.98,
    needle: "$",
  },
  {
    re: /\$(?:1|apr1)\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}(?![./A-Za-z0-9])/g,
    confidence: 0.97,
    needle: "$",
  },
  { re: /(?<![A-Za-z0-9])md5[0-9a-f]{32}(?![0-9A-Za-z])/g, confidence: 0.95, needle: "md5" },
  {
    re: /SCRAM-SHA-256\$\d{1,7}:[A-Za-z0-9+/=]{8,64}\$[A-Za-z0-9+/=]{20,64}:[A-Za-z0-9+/=]{20,64}/g,
    confidence: 0.99,
    needle: "SCRAM-SHA-256$",
  },
  {
    re: /pbkdf2_sha(?:256|1)\$\d{1,7}\$[A-Za-z0-9./+]{4,64}\$[A-Za-z0-9+/=]{20,128}/g,
    confidence: 0.97,
    needle: "pbkdf2_",
  },
];

function findPasswordHashes(text: string, emit: TSink): void {
  for (const p of HASH_PATTERNS) {
    if (!text.includes(p.needle)) continue;
    const re = rearm(p.re);
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) emit("password_hash", m.index, m.index + m[0].length, p.confidence);
  }
}

// ---------------------------------------------------------------------------------------------------
// detect

/**
 * Sensitive values in `text`, sorted and non-overlapping. Overlapping candidates (a card inside a
 * notice that also looks like a phone, a key inside a JWT) merge into one span labelled by the most
 * confident detector, so no character any detector flagged is left out of a redaction.
 */
export function detect(text: string, options: TDetectOptions = {}): TDetection[] {
  if (text.length < 3) return []; // shortest detectable value: "::1"
  const wanted = options.detectors ? (d: TDetectorId) => options.detectors!.includes(d) : () => true;
  const minConfidence = options.minConfidence ?? 0;
  const hints = hintsOf(options.columnHint);
  const p = profileOf(text);
  const found: TDetection[] = [];
  const emit: TSink = (detector, start, end, confidence) => {
    if (confidence >= minConfidence && end > start) found.push({ detector, start, end, confidence });
  };

  if (p.at && wanted("email")) findEmails(text, emit);
  if (p.digits >= 7 && wanted("phone")) findPhones(text, hints, emit);
  if (p.digits >= 9 && (wanted("us_ssn") || wanted("payment_card")))
    findDigitClusters(text, hints, wanted("us_ssn"), wanted("payment_card") && p.digits >= 13, emit);
  // Length gates use each format's shortest form: IBAN 15 (NO), JWT 15, fixed-prefix tokens 15 (xoxb-...),
  // crypt hashes 27 ($1$), so short cells skip them outright.
  if (text.length >= 15 && p.upper && p.digits >= 8 && wanted("iban")) findIbans(text, emit);
  if (((p.dots >= 3 && p.digits >= 4) || p.colons >= 2) && wanted("ip_address")) findIps(text, p, emit);
  if (text.length >= 15 && p.dots >= 2 && wanted("jwt") && text.includes("eyJ")) findJwts(text, emit);
  if (wanted("private_key") && text.includes("-----BEGIN ")) findPrivateKeys(text, emit);
  if (
    text.length >= 15 &&
    (wanted("cloud_key") || wanted("api_key")) &&
    (p.dashOrUnderscore || p.upper || text.length >= 32)
  )
    findTokens(text, wanted, hints, emit);
  if (text.length >= 27 && (p.dollar || text.includes("md5")) && wanted("password_hash"))
    findPasswordHashes(text, emit);

  return mergeOverlapping(found);
}

function mergeOverlapping(found: TDetection[]): TDetection[] {
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: TDetection[] = [];
  let current = { ...found[0]! };
  let best = found[0]!;
  for (let i = 1; i < found.length; i++) {
    const d = found[i]!;
    if (d.start < current.end) {
      current.end = Math.max(current.end, d.end);
      const longer = d.end - d.start > best.end - best.start;
      if (d.confidence > best.confidence || (d.confidence === best.confidence && longer)) best = d;
      current.detector = best.detector;
      current.confidence = best.confidence;
    } else {
      out.push(current);
      current = { ...d };
      best = d;
    }
  }
  out.push(current);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Redaction. Masks keep the shape a reader needs (an email still looks like an email, a card keeps its
// grouping and last 4 as PCI DSS allows, a key keeps its public type prefix) and nothing else: no digit
// of an SSN, phone or IBAN, no character of a local part, domain or secret body.

const SECRET_PREFIXES: Partial<Record<TDetectorId, RegExp>> = {
  api_key:
    /^(?:[a-z]{1,20}_(?:live|test)_|gh[pousr]_|github_pat_|glpat-|xox[a-z]-|npm_|whsec_|SG\.|sk-(?:proj-|ant-[a-z0-9]{2,10}-)?)/,
  cloud_key: /^(?:A[A-Z]{3}(?=[A-Z0-9]{16}$)|AIza)/,
  password_hash:
    /^(?:\$2[abxy]?\$\d{2}\$|\$argon2\w{1,2}\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$|\$scrypt\$[^$]{1,40}\$|\$7\$|\$y\$|\$[56]\$(?:rounds=\d+\$)?|\$(?:1|apr1)\$|md5|SCRAM-SHA-256\$\d+:|pbkdf2_sha\d+\$\d+\$)/,
};

const maskAlnum = (s: string) => s.replace(/[A-Za-z0-9]/g, "*");

/** The mask for one detected value (the exact span `detect` returned). */
export function maskDetectedValue(detector: TDetectorId, value: string): string {
  switch (detector) {
    case "email": {
      // Fixed-size local part and domain: their lengths would narrow down a person.
      const tld = /\.([a-z]{2,24})$/i.exec(value)?.[1];
      return tld ? `***@***.${tld.toLowerCase()}` : "***@***";
    }
    case "phone":
    case "us_ssn":
      return value.replace(/[0-9]/g, "*");
    case "payment_card": {
      const digits = value.replace(/[^0-9]/g, "");
      if (digits.length < 13 || digits.length > 19) return value.replace(/[0-9]/g, "*");
      let keep = 4;
      let out = "";
      for (let i = value.length - 1; i >= 0; i--) {
        const ch = value[i]!;
        if (isDigit(ch.charCodeAt(0))) out = (keep-- > 0 ? ch : "*") + out;
        else out = ch + out;
      }
      return out;
    }
    case "iban":
      return /^[A-Z]{2}\d{2}/.test(value) ? value.slice(0, 2) + maskAlnum(value.slice(2)) : maskAlnum(value);
    case "ip_address":
      return value.includes(":") ? "****::****" : "***.***.***.***";
    case "jwt":
      return value.startsWith("eyJ")
        ? "eyJ" + value.slice(3).replace(/[^.]/g, "*")
        : value.replace(/[^.]/g, "*");
    case "private_key": {
      const head = /^-----BEGIN [A-Z0-9 ]{0,60}-----/.exec(value)?.[0];
      const tail = /-----END [A-Z0-9 ]{0,60}-----$/.exec(value)?.[0];
      return head ? `${head}\n*****${tail ? `\n${tail}` : ""}` : "*****";
    }
    case "cloud_key":
    case "api_key":
    case "password_hash": {
      const prefix = SECRET_PREFIXES[detector]?.exec(value)?.[0] ?? "";
      return prefix + "*".repeat(value.length - prefix.length);
    }
  }
}

/** `text` with every detected span masked, and which detectors fired (in DETECTOR_IDS order). */
export function redactDetected(
  text: string,
  options: TDetectOptions = {},
): { text: string; detectors: TDetectorId[] } {
  const detections = detect(text, options);
  if (detections.length === 0) return { text, detectors: [] };
  const fired = new Set<TDetectorId>();
  let out = "";
  let cursor = 0;
  for (const d of detections) {
    out += text.slice(cursor, d.start) + maskDetectedValue(d.detector, text.slice(d.start, d.end));
    cursor = d.end;
    fired.add(d.detector);
  }
  out += text.slice(cursor);
  return { text: out, detectors: DETECTOR_IDS.filter((id) => fired.has(id)) };
}

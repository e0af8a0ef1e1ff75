// Sensitive-data discovery: classify columns from their names and sampled values, and turn the result
// into suggested masking rules. False positives cost trust (an admin who sees `order_id` flagged as a
// card stops reading the list), so each kind of evidence has to stand on its own:
//  - a name counts only when the sensitive word is the column's head noun ("email", "contact_email",
//    "email_address") and the type can hold such a value ("emailed_at" timestamp, "phone_verified"
//    boolean and "ip_count" integer are not PII);
//  - values count only when a clear majority (>= 60 %) of at least 3 non-null samples match a detector,
//    and never for id-like columns, where 16-digit numbers pass Luhn one time in ten by chance.
import { z } from "zod";
import { detect, splitIdentifier, type TDetectorId } from "./detectors.ts";

export const SENSITIVE_CATEGORIES = [
  "email",
  "phone",
  "us_ssn",
  "national_id",
  "payment_card",
  "iban",
  "ip_address",
  "secret",
  "password_hash",
  "person_name",
  "address",
  "date_of_birth",
] as const;
export const ZSensitiveCategory = z.enum(SENSITIVE_CATEGORIES);
export type TSensitiveCategory = z.infer<typeof ZSensitiveCategory>;

/** Same values as the masking engine's TMaskingStrategy. */
export const ZSuggestedStrategy = z.enum(["redact", "partial", "hash", "null", "format_preserving"]);
export type TSuggestedStrategy = z.infer<typeof ZSuggestedStrategy>;

export const ZTableSample = z.object({
  table: z.string(),
  columns: z.array(
    z.object({
      name: z.string(),
      /** Postgres type as information_schema or format_type prints it; "" when unknown. */
      dataType: z.string(),
      samples: z.array(z.string().nullable()),
    }),
  ),
});
export type TTableSample = z.infer<typeof ZTableSample>;

export const ZColumnClassification = z.object({
  table: z.string(),
  column: z.string(),
  category: ZSensitiveCategory,
  confidence: z.number().min(0).max(1),
  evidence: z.array(z.enum(["name", "values"])),
  suggestedStrategy: ZSuggestedStrategy,
  suggestedRuleName: z.string(),
});
export type TColumnClassification = z.infer<typeof ZColumnClassification>;

export const ZSuggestedMaskingRule = z.object({
  name: z.string(),
  /** "table.column", as the masking rules match columns. */
  columnPattern: z.string(),
  strategy: ZSuggestedStrategy,
});
export type TSuggestedMaskingRule = z.infer<typeof ZSuggestedMaskingRule>;

/** Below this a classification is not reported. */
const REPORT_THRESHOLD = 0.5;
const VALUE_SHARE = 0.6;
const MIN_VALUE_SAMPLES = 3;

// ---------------------------------------------------------------------------------------------------
// Types: which families of column type can hold each category.

type TTypeFamily =
  "text" | "integer" | "boolean" | "temporal" | "network" | "binary" | "json" | "uuid" | "other" | "unknown";

function typeFamily(dataType: string): TTypeFamily {
  const t = dataType
    .trim()
    .toLowerCase()
    .replace(/\[\]$|^_/, "");
  if (t === "") return "unknown";
  if (/bool/.test(t)) return "boolean";
  if (/json/.test(t)) return "json";
  if (/date|time|interval/.test(t)) return "temporal";
  if (/^(?:small|big)?int|^integer|serial|numeric|decimal|real|double|float|money|^number/.test(t))
    return "integer";
  if (/inet|cidr|macaddr/.test(t)) return "network";
  if (/bytea|blob|binary/.test(t)) return "binary";
  if (/uuid/.test(t)) return "uuid";
  if (/char|text|string|citext|^name$|clob/.test(t)) return "text";
  return "other";
}

const ANY_TEXT: TTypeFamily[] = ["text", "unknown", "other"];
const FAMILIES: Record<TSensitiveCategory, TTypeFamily[]> = {
  email: [...ANY_TEXT, "json"],
  phone: [...ANY_TEXT, "integer"],
  us_ssn: [...ANY_TEXT, "integer"],
  national_id: [...ANY_TEXT, "integer"],
  payment_card: [...ANY_TEXT, "integer"],
  iban: ANY_TEXT,
  ip_address: [...ANY_TEXT, "network"],
  secret: [...ANY_TEXT, "binary", "json", "uuid"],
  password_hash: [...ANY_TEXT, "binary"],
  person_name: ANY_TEXT,
  address: [...ANY_TEXT, "json"],
  date_of_birth: [...ANY_TEXT, "temporal", "integer"],
};

// ---------------------------------------------------------------------------------------------------
// Name evidence.

/** Trailing words that qualify a value without changing what it is: phone_number, ssn_encrypted, email_1. */
const QUALIFIERS = new Set([
  "number",
  "num",
  "no",
  "nr",
  "nbr",
  "value",
  "val",
  "raw",
  "text",
  "str",
  "string",
  "enc",
  "encrypted",
  "cipher",
  "ciphertext",
  "plain",
  "plaintext",
  "primary",
  "secondary",
  "main",
  "normalized",
  "normalised",
  "formatted",
  "e164",
  "national",
  "intl",
  "international",
  "home",
  "work",
  "personal",
  "private",
]);
/** Leading words that make the column about the value rather than the value: is_email, has_phone. */
const PREDICATE_PREFIXES = new Set([
  "is",
  "has",
  "can",
  "allow",
  "allows",
  "needs",
  "should",
  "was",
  "n",
  "count",
  "total",
]);
const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "passphrase", "passcode"]);
const HASH_WORDS = new Set([
  "hash",
  "hashed",
  "digest",
  "crypt",
  "crypted",
  "encrypted",
  "enc",
  "bcrypt",
  "scrypt",
  "argon",
  "argon2",
]);
const NOT_A_PLACE = new Set([
  "email",
  "mail",
  "ip",
  "mac",
  "remote",
  "client",
  "server",
  "host",
  "peer",
  "wallet",
  "contract",
  "web",
  "url",
  "memory",
  "bind",
  "listen",
  "source",
  "src",
  "destination",
  "dst",
  "local",
  "public",
  "ipv",
]);
const PERSON_ROLES = new Set([
  "customer",
  "contact",
  "patient",
  "employee",
  "person",
  "cardholder",
  "holder",
  "recipient",
  "sender",
  "parent",
  "guardian",
  "spouse",
  "billing",
  "shipping",
  "owner",
  "member",
  "student",
]);
const NAME_PARTS = new Set([
  "first",
  "last",
  "full",
  "given",
  "family",
  "middle",
  "maiden",
  "legal",
  "sur",
  "fore",
  "real",
  "birth",
]);
const PERSON_TABLES =
  /(?:^|_)(?:customers?|users?|employees?|patients?|people|persons?|members?|contacts?|students?|staff|clients?|accounts?|applicants?|candidates?|guests?|subscribers?|donors?|authors?)$/;

interface TNameMatch {
  category: TSensitiveCategory;
  confidence: number;
}

function classifyName(table: string, column: string): TNameMatch | null {
  const tokens = splitIdentifier(column);
  if (tokens.length === 0 || PREDICATE_PREFIXES.has(tokens[0]!)) return null;
  let end = tokens.length;
  while (end > 1 && (QUALIFIERS.has(tokens[end - 1]!) || /^\d+$/.test(tokens[end - 1]!))) end--;
  const core = tokens.slice(0, end);
  const head = core[end - 1]!;
  const prev = core[end - 2];
  const prev2 = core[end - 3];
  const has = (w: string) => core.includes(w);
  const trailing = tokens.slice(end);
  const match = (category: TSensitiveCategory, confidence: number): TNameMatch => ({ category, confidence });

  // Passwords first: "password_hash" is a hash, not a secret, and "encrypted_password" is a hash too.
  if (core.some((t) => PASSWORD_WORDS.has(t))) {
    if (tokens.some((t) => HASH_WORDS.has(t))) return match("password_hash", 0.9);
    if (PASSWORD_WORDS.has(head)) return match("secret", 0.8);
  }
  if (HASH_WORDS.has(head) && (prev === "pw" || prev === "pass")) return match("password_hash", 0.85);

  if (head === "ssn" || head === "socialsecurity" || (head === "security" && prev === "social"))
    return match("us_ssn", 0.9);
  if (
    head === "passport" ||
    (head === "id" && (prev === "tax" || prev === "national" || prev === "taxpayer")) ||
    head === "tin" ||
    (head === "insurance" && prev === "national")
  )
    return match("national_id", 0.75);

  if (
    head === "email" ||
    head === "emailaddress" ||
    head === "emailaddr" ||
    (head === "mail" && prev === "e")
  )
    return match("email", 0.9);
  if ((head === "address" || head === "addr") && (prev === "email" || prev === "mail"))
    return match("email", 0.9);

  if (["phone", "telephone", "phonenumber", "mobilephone", "cellphone", "msisdn", "mobile"].includes(head))
    return match("phone", 0.85);
  if (head === "tel" || head === "fax" || (head === "cell" && (trailing.length > 0 || prev === "contact")))
    return match("phone", 0.7);

  if (head === "creditcard" || head === "cardnumber" || head === "ccn" || head === "ccnum" || head === "pan")
    return match("payment_card", 0.9);
  if (head === "card" && (prev === "credit" || prev === "debit" || prev === "payment" || prev === "bank"))
    return match("payment_card", 0.9);
  if (
    (head === "card" || head === "cc") &&
    trailing.some((t) => ["number", "num", "no", "nr", "nbr"].includes(t))
  )
    return match("payment_card", 0.9);
  if (head === "card" && core.length === 1) return match("payment_card", 0.6);

  if (head === "iban" || (head === "ibn" && prev === "bank")) return match("iban", 0.9);

  if (["ip", "ipaddress", "ipaddr", "ipv", "inet"].includes(head)) return match("ip_address", 0.85);
  if (
    (head === "address" || head === "addr") &&
    (prev === "ip" || prev === "ipv" || prev === "remote" || prev === "client" || prev === "peer")
  )
    return match("ip_address", 0.8);

  if (
    head === "token" ||
    head === "secret" ||
    head === "apikey" ||
    head === "credential" ||
    head === "credentials"
  )
    return match("secret", 0.85);
  if (
    head === "key" &&
    [
      "api",
      "secret",
      "private",
      "access",
      "signing",
      "encryption",
      "ssh",
      "client",
      "master",
      "license",
    ].includes(prev ?? "")
  )
    return match("secret", 0.85);

  if (
    head === "dob" ||
    head === "birthdate" ||
    head === "birthday" ||
    (has("birth") &&
      ["date", "day", "dt", "on"].some((w) => has(w)) &&
      !["place", "city", "country", "year", "name"].includes(head))
  )
    return match("date_of_birth", 0.85);

  if (
    [
      "firstname",
      "lastname",
      "fullname",
      "surname",
      "givenname",
      "familyname",
      "forename",
      "middlename",
      "maidenname",
    ].includes(head)
  )
    return match("person_name", 0.85);
  if (head === "name" && prev !== undefined && NAME_PARTS.has(prev)) return match("person_name", 0.85);
  if (head === "name" && prev !== undefined && PERSON_ROLES.has(prev)) return match("person_name", 0.7);
  if (head === "name" && core.length === 1) {
    const bareTable = splitIdentifier(table.slice(table.lastIndexOf(".") + 1)).join("_");
    return PERSON_TABLES.test(bareTable) ? match("person_name", 0.6) : null;
  }

  if (
    (head === "address" || head === "addr" || head === "street" || head === "streetaddress") &&
    !NOT_A_PLACE.has(prev ?? "")
  )
    return match("address", 0.75);
  if (
    head === "line" &&
    (prev === "address" || prev === "addr" || prev === "street") &&
    !NOT_A_PLACE.has(prev2 ?? "")
  )
    return match("address", 0.75);

  return null;
}

// ---------------------------------------------------------------------------------------------------
// Value evidence.

const DETECTOR_CATEGORY: Record<TDetectorId, TSensitiveCategory> = {
  email: "email",
  phone: "phone",
  us_ssn: "us_ssn",
  payment_card: "payment_card",
  iban: "iban",
  ip_address: "ip_address",
  jwt: "secret",
  private_key: "secret",
  cloud_key: "secret",
  api_key: "secret",
  password_hash: "password_hash",
};
/** Detectors for which a numeric id column gives chance matches (Luhn passes 1 in 10 numbers). */
const NUMERIC_DETECTORS = new Set<TDetectorId>(["payment_card", "us_ssn", "phone"]);
const CATEGORIES_WITH_DETECTOR = new Set(Object.values(DETECTOR_CATEGORY));

interface TValueMatch {
  category: TSensitiveCategory;
  share: number;
  confidence: number;
  /** Whether the matches are the whole cell, not a value inside free text. */
  whole: boolean;
  samples: number;
}

function isIdLike(column: string): boolean {
  const tokens = splitIdentifier(column);
  const last = tokens[tokens.length - 1];
  return (
    last === "id" ||
    last === "pk" ||
    last === "uuid" ||
    last === "seq" ||
    last === "ref" ||
    tokens.join("") === "id"
  );
}

function classifyValues(column: string, family: TTypeFamily, samples: (string | null)[]): TValueMatch | null {
  if (family === "boolean" || family === "temporal") return null;
  const values = samples.filter((s): s is string => s !== null && s.trim() !== "");
  if (values.length === 0) return null;
  const idLike = isIdLike(column);
  const stats = new Map<TSensitiveCategory, { hits: number; confidence: number; whole: number }>();
  for (const value of values) {
    const seen = new Set<TSensitiveCategory>();
    for (const d of detect(value, { columnHint: column })) {
      if (idLike && NUMERIC_DETECTORS.has(d.detector)) continue;
      const category = DETECTOR_CATEGORY[d.detector];
      if (seen.has(category)) continue;
      seen.add(category);
      const s = stats.get(category) ?? { hits: 0, confidence: 0, whole: 0 };
      s.hits++;
      s.confidence += d.confidence;
      if (d.end - d.start >= value.trim().length * 0.8) s.whole++;
      stats.set(category, s);
    }
  }
  let best: TValueMatch | null = null;
  for (const [category, s] of stats) {
    const share = s.hits / values.length;
    // Few samples prove less: 3 samples cap the confidence near 0.8, 10 or more do not cap it.
    const sampleFactor = Math.min(1, 0.7 + 0.03 * values.length);
    const confidence = (s.confidence / s.hits) * (0.5 + share / 2) * sampleFactor;
    if (!best || share > best.share || (share === best.share && confidence > best.confidence)) {
      best = { category, share, confidence, whole: s.whole >= s.hits * 0.8, samples: values.length };
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// Combining and suggesting.

const STRATEGY: Record<TSensitiveCategory, TSuggestedStrategy> = {
  email: "partial", // keeps the domain, useful for support and analytics
  phone: "partial", // last digits, as on a receipt
  us_ssn: "redact",
  national_id: "redact",
  payment_card: "partial", // last 4, as PCI DSS allows
  iban: "partial",
  ip_address: "hash", // keyed hash keeps per-address grouping without the address
  secret: "redact",
  password_hash: "redact",
  person_name: "hash", // joins and distinct counts still work
  address: "redact",
  date_of_birth: "format_preserving", // still a date, so the column type does not change
};

const LABEL: Record<TSensitiveCategory, string> = {
  email: "email",
  phone: "phone",
  us_ssn: "US SSN",
  national_id: "national id",
  payment_card: "card number",
  iban: "IBAN",
  ip_address: "IP address",
  secret: "secret",
  password_hash: "password hash",
  person_name: "person name",
  address: "address",
  date_of_birth: "date of birth",
};

const related = (a: TSensitiveCategory, b: TSensitiveCategory) =>
  a === b ||
  (a === "secret" && b === "password_hash") ||
  (a === "password_hash" && b === "secret") ||
  (a === "national_id" && b === "us_ssn");

function combine(
  name: TNameMatch | null,
  values: TValueMatch | null,
  nonNull: number,
): {
  category: TSensitiveCategory;
  confidence: number;
  evidence: ("name" | "values")[];
  whole: boolean;
} | null {
  const valuesStrong = values !== null && values.samples >= MIN_VALUE_SAMPLES && values.share >= VALUE_SHARE;
  if (name && values && related(name.category, values.category)) {
    // Values name the precise kind ("password" holding bcrypt hashes is a password_hash column).
    const category = valuesStrong ? values.category : name.category;
    const confidence = 1 - (1 - name.confidence) * (1 - values.confidence);
    return { category, confidence, evidence: ["name", "values"], whole: values.whole };
  }
  if (valuesStrong && (!name || values.confidence > name.confidence)) {
    return {
      category: values.category,
      confidence: values.confidence,
      evidence: ["values"],
      whole: values.whole,
    };
  }
  if (name) {
    // Plenty of samples and none looks like what the name promises: keep it (a miss leaks) but trust it less.
    const contradicted = CATEGORIES_WITH_DETECTOR.has(name.category) && nonNull >= 5;
    return {
      category: name.category,
      confidence: name.confidence * (contradicted ? 0.75 : 1),
      evidence: ["name"],
      whole: true,
    };
  }
  return null;
}

/** The sensitive columns among `tables`, in input order; columns judged not sensitive are left out. */
export function classifyColumns(tables: TTableSample[]): TColumnClassification[] {
  const out: TColumnClassification[] = [];
  for (const { table, columns } of tables) {
    for (const column of columns) {
      const family = typeFamily(column.dataType);
      let name = classifyName(table, column.name);
      if (name && !FAMILIES[name.category].includes(family)) name = null;
      let values = classifyValues(column.name, family, column.samples);
      if (values && !FAMILIES[values.category].includes(family)) values = null;
      const nonNull = column.samples.filter((s) => s !== null && s.trim() !== "").length;
      const result = combine(name, values, nonNull);
      if (!result || result.confidence < REPORT_THRESHOLD) continue;
      // A value found inside free text cannot be partially masked as a whole cell.
      const strategy = result.whole ? STRATEGY[result.category] : "redact";
      out.push({
        table,
        column: column.name,
        category: result.category,
        confidence: Math.round(Math.min(0.99, result.confidence) * 100) / 100,
        evidence: result.evidence,
        suggestedStrategy: strategy,
        suggestedRuleName: `Mask ${LABEL[result.category]} in ${table}.${column.name}`,
      });
    }
  }
  return out;
}

/** One masking rule per classified column (first classification wins), ordered by table and column. */
export function suggestMaskingRules(
  classifications: readonly TColumnClassification[],
): TSuggestedMaskingRule[] {
  const rules = new Map<string, TSuggestedMaskingRule>();
  for (const c of classifications) {
    const columnPattern = `${c.table}.${c.column}`;
    if (!rules.has(columnPattern)) {
      rules.set(columnPattern, { name: c.suggestedRuleName, columnPattern, strategy: c.suggestedStrategy });
    }
  }
  return [...rules.values()].sort((a, b) => a.columnPattern.localeCompare(b.columnPattern));
}

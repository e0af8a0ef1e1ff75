// Corpus for the content detectors: positives carry the sensitive substring that must be found (and
// masked); negatives are look-alikes that must not be flagged by that detector. Generated entries
// (cards, SSNs, IPs) come from a seeded PRNG so the corpus is large but stable.
import type { TDetectorId } from "../detectors.ts";

export interface TPositive {
  text: string;
  /** The sensitive substring; defaults to the whole text. */
  value?: string;
  columnHint?: string;
}
export interface TNegative {
  text: string;
  columnHint?: string;
}

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(1815);
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const fromAlphabet = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX = "0123456789abcdef";

export function luhnCheckDigit(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
const luhnComplete = (partial: string) => partial + luhnCheckDigit(partial);
/** The same number with a wrong check digit. */
const luhnBreak = (valid: string) => valid.slice(0, -1) + String((Number(valid.slice(-1)) + 1) % 10);
const group4 = (n: string, sep = " ") => n.replace(/(\d{4})(?=\d)/g, `$1${sep}`);

const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const jwt = (header: object, payload: object, sig = fromAlphabet(ALNUM + "-_", 43)) =>
  `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${sig}`;

// --- The demo's Ada Lovelace row (apps/demo/src/demo-data.ts) -----------------------------------------
export const ADA = {
  email: "ada.lovelace@example.com",
  phone: "+1 (555) 010-1815",
  ssn: "078-05-1120",
  card: "4111 1111 1111 1111",
  apiToken: "sk_live_51Ada" + "3f9a0c47e1b2d58a6c7e9f01",
};

// --- payment cards ------------------------------------------------------------------------------------
const KNOWN_CARDS = [
  "4111111111111111", // Visa
  "4012888888881881",
  "4222222222222", // Visa, 13 digits
  "4000056655665556",
  "5555555555554444", // Mastercard
  "5105105105105100",
  "2223003122003222", // Mastercard 2-series
  "5200828282828210",
  "378282246310005", // Amex
  "371449635398431",
  "378734493671000",
  "6011111111111117", // Discover
  "6011000990139424",
  "30569309025904", // Diners
  "38520000023237",
  "3530111333300000", // JCB
  "3566002020360505",
  "6200000000000005", // UnionPay
];
const generatedCards: string[] = [];
for (const prefix of [
  "4",
  "51",
  "52",
  "53",
  "54",
  "55",
  "2221",
  "2720",
  "6011",
  "65",
  "3528",
  "3589",
  "62",
]) {
  for (let i = 0; i < 4; i++) generatedCards.push(luhnComplete(prefix + digits(15 - prefix.length)));
}
for (let i = 0; i < 6; i++) generatedCards.push(luhnComplete(pick(["34", "37"]) + digits(12)));
const amexSpaced = (n: string) => `${n.slice(0, 4)} ${n.slice(4, 10)} ${n.slice(10)}`;

export const CARD_POSITIVES: TPositive[] = [
  ...KNOWN_CARDS.map((text) => ({ text })),
  ...generatedCards.map((text) => ({ text })),
  ...generatedCards.filter((n) => n.length === 16).map((n) => ({ text: group4(n) })),
  ...generatedCards.filter((n) => n.length === 16).map((n) => ({ text: group4(n, "-") })),
  { text: amexSpaced("378282246310005") },
  { text: "3056 930902 5904" }, // Diners 4-6-4
  { text: ADA.card },
  { text: `card: ${ADA.card}, exp 12/29`, value: ADA.card },
  { text: `invalid input syntax for type bigint: "${ADA.card}"`, value: ADA.card },
  { text: "NOTICE:  processing card 4111111111111111 for order 42", value: "4111111111111111" },
  { text: `{"pan":"5555-5555-5555-4444","cvc":"123"}`, value: "5555-5555-5555-4444" },
  { text: "payment 4111 1111 1111 1111 declined", value: "4111 1111 1111 1111" },
  { text: "ssn 078-05-1120 card 4111 1111 1111 1111", value: "4111 1111 1111 1111" },
];

export const CARD_NEGATIVES: TNegative[] = [
  ...generatedCards.map((n) => ({ text: luhnBreak(n) })),
  ...generatedCards.filter((n) => n.length === 16).map((n) => ({ text: group4(luhnBreak(n)) })),
  { text: "4111 1111 1111 1112" },
  { text: "1234 5678 9012 3456" },
  { text: "0000 0000 0000 0000" }, // Luhn-valid, no issuer
  { text: "9999999999999995" },
  { text: "41111111111111112222" }, // too long
  { text: "41 11 11 11 11 11 11 11" }, // not a card grouping
  { text: "0.4111111111111111" }, // a decimal
  { text: "x4111111111111111" }, // inside a word
  { text: "1705312200000" }, // epoch milliseconds
  { text: "Tracking 1Z999AA10123456784" },
  { text: "order 12345678901234567890123 shipped" },
  { text: "4111111" },
  { text: "v4111111111111111" },
  { text: "1,234,567,890,123,456" }, // thousands separators
  { text: "$4,111,111,111,111,111.00" },
];

// --- US SSN -------------------------------------------------------------------------------------------
const validSsns: string[] = [];
while (validSsns.length < 40) {
  const area = 1 + Math.floor(rand() * 899);
  if (area === 666) continue;
  const group = 1 + Math.floor(rand() * 99);
  const serial = 1 + Math.floor(rand() * 9999);
  validSsns.push(
    `${String(area).padStart(3, "0")}-${String(group).padStart(2, "0")}-${String(serial).padStart(4, "0")}`,
  );
}
export const SSN_POSITIVES: TPositive[] = [
  ...validSsns.map((text) => ({ text })),
  ...validSsns.slice(0, 10).map((s) => ({ text: s.replace(/-/g, " ") })),
  ...validSsns.slice(0, 10).map((s) => ({ text: s.replace(/-/g, ""), columnHint: "ssn" })),
  { text: ADA.ssn },
  { text: "078 05 1120" },
  { text: "123-45-6789" },
  { text: "219-09-9999" },
  { text: "SSN: 457-55-5462", value: "457-55-5462" },
  { text: `invalid input syntax for type integer: "${ADA.ssn}"`, value: ADA.ssn },
  { text: `{"ssn":"${ADA.ssn}"}`, value: ADA.ssn },
  {
    text: `ERROR: relation "x" does not exist LINE 1: select * from x where ssn = '078-05-1120'`,
    value: ADA.ssn,
  },
  { text: "078051120", columnHint: "ssn" },
  { text: "078051120", columnHint: "social_security_number" },
  { text: "078051120", columnHint: "SocialSecurityNumber" },
  { text: "Key (ssn)=(078051120) already exists.", value: "078051120" },
  { text: "ssn=078051120", value: "078051120" },
];
export const SSN_NEGATIVES: TNegative[] = [
  { text: "000-12-3456" },
  { text: "666-12-3456" },
  { text: "900-12-3456" },
  { text: "999-99-9999" },
  { text: "123-00-4567" },
  { text: "123-45-0000" },
  { text: "078051120" }, // a bare 9-digit number is not an SSN on its own
  { text: "078051120", columnHint: "order_id" },
  { text: "078051120", columnHint: "id" },
  { text: "000051120", columnHint: "ssn" },
  { text: "1-078-05-1120-9" },
  { text: "078-05-11200" },
  { text: "078-051-120" },
  { text: "2024-01-15" },
  { text: "12-345-6789" },
  { text: "a078-05-1120" },
  { text: "078-05-1120.5" },
  { text: "phone 555-010-1815" },
  { text: "order 123456789 shipped" },
  { text: "1234567890" },
];

// --- phone --------------------------------------------------------------------------------------------
const generatedPhones: string[] = [];
for (let i = 0; i < 20; i++)
  generatedPhones.push(`+1 (${pick(["212", "415", "555", "646", "303"])}) ${digits(3)}-${digits(4)}`);
for (let i = 0; i < 10; i++) generatedPhones.push(`+44 20 ${digits(4)} ${digits(4)}`);
for (let i = 0; i < 10; i++) generatedPhones.push(`+${pick(["33", "49", "41", "31", "46"])}${digits(9)}`);
export const PHONE_POSITIVES: TPositive[] = [
  ...generatedPhones.map((text) => ({ text })),
  { text: ADA.phone },
  { text: "+15550101815" },
  { text: "+1-555-010-1815" },
  { text: "+1 555 010 1815" },
  { text: "+44 20 7946 0958" },
  { text: "+442079460958" },
  { text: "+49 30 901820" },
  { text: "+33 1 42 68 53 00" },
  { text: "+81-3-1234-5678" },
  { text: "(212) 555-0100" },
  { text: "212-555-0100" },
  { text: "212.555.0100" },
  { text: "1-800-555-0199" },
  { text: "415 555 2671" },
  { text: "020 7946 0958" },
  { text: "07700 900123" },
  { text: "Call me at (415) 555-2671 tomorrow", value: "(415) 555-2671" },
  { text: "tel:+14155552671", value: "+14155552671" },
  { text: `Key (phone)=(${ADA.phone}) already exists.`, value: ADA.phone },
  { text: "4155552671", columnHint: "phone" },
  { text: "4155552671", columnHint: "mobileNumber" },
  { text: "phone: 4155552671", value: "4155552671" },
  { text: "call 555-010-1815 or 555.010.1816", value: "555-010-1815" },
  { text: "call 555-010-1815 or 555.010.1816", value: "555.010.1816" },
  { text: "order 12 555-010-1815", value: "555-010-1815" },
];
export const PHONE_NEGATIVES: TNegative[] = [
  { text: "2024-01-15" },
  { text: "2024-01-15 10:30:00" },
  { text: "2024-01-15T10:30:00.123+00:00" },
  { text: "2024-01-15 10:30:00+00" },
  { text: "10:30:00" },
  { text: "192.168.1.1" },
  { text: "v1.2.3" },
  { text: "123456" },
  { text: "1705312200" },
  { text: "1705312200000" },
  { text: "4111 1111 1111 1111" },
  { text: ADA.ssn },
  { text: "$1,234,567.89" },
  { text: "12345.6789" },
  { text: "order 1234567" },
  { text: "+1 555 010" },
  { text: "+1 (555) 010-18150" },
  { text: "(123) 456-7890" }, // NANP area codes never start with 1
  { text: "ISBN 978-3-16-148410-0" },
  { text: "2024/01/15" },
  { text: "555-0100" },
  { text: "3.14159265358979" },
  { text: "1 2 3 4 5 6 7 8" },
  { text: "4155552671" }, // bare digits without a phone hint
  { text: "4155552671", columnHint: "order_total_cents" },
  { text: "1815-12-10" },
  { text: "INV-2024-000123" },
  { text: "42.123456, -71.987654" },
];

// --- email --------------------------------------------------------------------------------------------
const FIRST = ["ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken", "dennis", "radia"];
const LAST = [
  "lovelace",
  "hopper",
  "turing",
  "dijkstra",
  "liskov",
  "knuth",
  "hamilton",
  "thompson",
  "ritchie",
  "perlman",
];
const generatedEmails: string[] = [];
for (let i = 0; i < 30; i++)
  generatedEmails.push(
    `${pick(FIRST)}.${pick(LAST)}${i}@${pick(["example.com", "mail.example.org", "corp.example.co.uk", "uni.example.edu"])}`,
  );
export const EMAIL_POSITIVES: TPositive[] = [
  ...generatedEmails.map((text) => ({ text })),
  { text: ADA.email },
  { text: "first.last+tag@sub.example.co.uk" },
  { text: "o'brien@example.ie" },
  { text: "UPPER@EXAMPLE.COM" },
  { text: "x@y.io" },
  { text: "user@xn--bcher-kva.example" },
  { text: "contact <ada@example.com>.", value: "ada@example.com" },
  { text: "mailto:ada@example.com", value: "ada@example.com" },
  { text: `Key (email)=(${ADA.email}) already exists.`, value: ADA.email },
  {
    text: `duplicate key value violates unique constraint "customers_email_key"\nDETAIL:  Key (email)=(${ADA.email}) already exists.`,
    value: ADA.email,
  },
  { text: `invalid input value for enum mood: "${ADA.email}"`, value: ADA.email },
  { text: `{"email":"${ADA.email}","name":"Ada"}`, value: ADA.email },
  { text: "Please write to support@example.com.", value: "support@example.com" },
  { text: "a@b.co" },
];
export const EMAIL_NEGATIVES: TNegative[] = [
  { text: "user@localhost" },
  { text: "@example.com" },
  { text: "user@" },
  { text: "icon@2x.png" },
  { text: "a@b" },
  { text: "user@-example.com" },
  { text: "user@example..com" },
  { text: "user.@example.com" },
  { text: "foo @ bar.com" },
  { text: "2@3.45" },
  { text: "support at example dot com" },
  { text: "@@@@@@@@" },
  { text: "select email from customers" },
];

// --- IBAN ---------------------------------------------------------------------------------------------
export const IBAN_POSITIVES: TPositive[] = [
  { text: "GB82 WEST 1234 5698 7654 32" },
  { text: "GB82WEST12345698765432" },
  { text: "DE89 3704 0044 0532 0130 00" },
  { text: "DE89370400440532013000" },
  { text: "FR14 2004 1010 0505 0001 3M02 606" },
  { text: "NL91ABNA0417164300" },
  { text: "BE68539007547034" },
  { text: "CH9300762011623852957" },
  { text: "ES9121000418450200051332" },
  { text: "IT60X0542811101000000123456" },
  { text: "NO9386011117947" },
  { text: "IBAN: DE89370400440532013000.", value: "DE89370400440532013000" },
  { text: "pay to DE89 3704 0044 0532 0130 00 EUR 12.00", value: "DE89 3704 0044 0532 0130 00" },
  { text: "GB82 WEST 1234 5698 7654 32 then DE89370400440532013000", value: "DE89370400440532013000" },
];
export const IBAN_NEGATIVES: TNegative[] = [
  { text: "GB82WEST12345698765431" },
  { text: "DE89370400440532013001" },
  { text: "XX89370400440532013000" },
  { text: "GB82WEST123456987654" },
  { text: "gb82west12345698765432" },
  { text: "DE8937040044053201300099" },
  { text: "ABCD1234EFGH5678IJKL" },
];

// --- IP addresses -------------------------------------------------------------------------------------
const generatedIpv4: string[] = [];
for (let i = 0; i < 30; i++)
  generatedIpv4.push([0, 0, 0, 0].map(() => 10 + Math.floor(rand() * 245)).join("."));
export const IP_POSITIVES: TPositive[] = [
  ...generatedIpv4.map((text) => ({ text })),
  { text: "192.168.1.10" },
  { text: "10.0.0.1" },
  { text: "8.8.8.8" },
  { text: "255.255.255.255" },
  { text: "172.16.254.1/24" },
  { text: "client 203.0.113.7 connected", value: "203.0.113.7" },
  { text: `invalid input syntax for type inet: "203.0.113.7"`, value: "203.0.113.7" },
  { text: "::1" },
  { text: "2001:db8::1" },
  { text: "2001:0db8:85a3:0000:0000:8a2e:0370:7334" },
  { text: "2001:db8:85a3::8a2e:370:7334" },
  { text: "fe80::1ff:fe23:4567:890a%eth0" },
  { text: "::ffff:192.0.2.128" },
  { text: "2001:db8:0:0:1:0:0:1" },
  { text: "[2001:db8::1]:5432", value: "2001:db8::1" },
  { text: "connection from 2001:db8::7 port 5432", value: "2001:db8::7" },
  { text: "FE80::0202:B3FF:FE1E:8329" },
];
export const IP_NEGATIVES: TNegative[] = [
  { text: "256.1.1.1" },
  { text: "1.2.3" },
  { text: "1.2.3.4.5" },
  { text: "192.168.01.1" },
  { text: "10:30:00" },
  { text: "00:1A:2B:3C:4D:5E" },
  { text: "12:34" },
  { text: "::" },
  { text: "select 'x'::text" },
  { text: "select 1::int, 2::bigint" },
  { text: "a::b" },
  { text: "2001:db8::1::2" },
  { text: "1:2:3:4:5:6:7:8:9" },
  { text: "gggg::1" },
  { text: "version 1.2.3" },
  { text: "Foo::Bar::baz()" },
  { text: "std::vector<int>" },
  { text: "2024-01-15T10:30:00Z" },
];

// --- JWT ----------------------------------------------------------------------------------------------
const JWT_HS256 =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
export const JWT_POSITIVES: TPositive[] = [
  { text: JWT_HS256 },
  { text: jwt({ alg: "RS256", typ: "JWT", kid: "k1" }, { sub: "ada", exp: 1900000000 }) },
  { text: jwt({ alg: "ES256" }, { sub: "grace", scope: "read write" }) },
  { text: jwt({ alg: "none" }, { sub: "ada" }, "") },
  { text: `Authorization: Bearer ${JWT_HS256}`, value: JWT_HS256 },
  { text: `{"id_token":"${JWT_HS256}"}`, value: JWT_HS256 },
  { text: `token=${JWT_HS256}&next=/`, value: JWT_HS256 },
  ...Array.from({ length: 10 }, (_, i) => ({
    text: jwt(
      { alg: pick(["HS256", "RS256", "EdDSA"]), typ: "JWT" },
      { sub: `user-${i}`, iat: 1700000000 + i },
    ),
  })),
];
export const JWT_NEGATIVES: TNegative[] = [
  { text: "eyJhbGciOiJIUzI1NiJ9" }, // header only
  { text: `${b64url(JSON.stringify({ notalg: 1 }))}.${b64url('{"sub":"1"}')}.c2lnbmF0dXJl` }, // no "alg"
  { text: "eyJxxxxx.yyyyyy.zzzz" }, // header is not JSON
  { text: "abc.def.ghi" },
  { text: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0" }, // two parts
  { text: `${b64url("[1,2,3]")}.${b64url("{}")}.sig` },
  { text: "file.name.tar.gz" },
  { text: "xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc" },
];

// --- private keys -------------------------------------------------------------------------------------
const pemBody = (lines: number) => Array.from({ length: lines }, () => fromAlphabet(B64, 64)).join("\n");
const pem = (label: string, lines = 6) =>
  `-----BEGIN ${label}-----\n${pemBody(lines)}\n-----END ${label}-----`;
const EMBEDDED_KEY = pem("RSA PRIVATE KEY");
export const PRIVATE_KEY_POSITIVES: TPositive[] = [
  { text: pem("RSA PRIVATE KEY") },
  { text: pem("EC PRIVATE KEY", 3) },
  { text: pem("OPENSSH PRIVATE KEY") },
  { text: pem("PRIVATE KEY") },
  { text: pem("ENCRYPTED PRIVATE KEY") },
  { text: pem("DSA PRIVATE KEY") },
  { text: pem("PGP PRIVATE KEY BLOCK") },
  { text: `key:\n${EMBEDDED_KEY}\n-- end`, value: EMBEDDED_KEY },
  {
    text: `{"private_key":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n"}`,
    value:
      "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----",
  },
  {
    text: `-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0`,
  },
];
export const PRIVATE_KEY_NEGATIVES: TNegative[] = [
  { text: pem("PUBLIC KEY") },
  { text: pem("CERTIFICATE") },
  { text: "-----BEGIN PRIVATE-----" },
  { text: "the private key is stored in the vault" },
];

// --- cloud keys ---------------------------------------------------------------------------------------
const azureKey = fromAlphabet(B64, 86) + "==";
export const CLOUD_KEY_POSITIVES: TPositive[] = [
  { text: "AKIAIOSFODNN7EXAMPLE" },
  { text: "ASIAY34FZKBOKMUTVV7A" },
  { text: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", value: "AKIAIOSFODNN7EXAMPLE" },
  {
    text: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
  {
    text: `{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`,
    value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
  { text: "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY" },
  {
    text: `key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&q=1`,
    value: "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
  },
  {
    text: `DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=${azureKey};EndpointSuffix=core.windows.net`,
    value: azureKey,
  },
  {
    text: "https://demo.blob.core.windows.net/c/f?sv=2021-08-06&se=2030-01-01&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5%2Babc",
    value: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5%2Babc",
  },
  ...Array.from({ length: 10 }, () => ({
    text: "AKIA" + fromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
  })),
];
export const CLOUD_KEY_NEGATIVES: TNegative[] = [
  { text: "AKIA123" },
  { text: "AKIAIOSFODNN7EXAMPLEX" },
  { text: "akiaiosfodnn7example" },
  { text: "AIzaShort" },
  { text: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }, // a 40-char string with no context
  { text: "AccountKey=short" },
];

// --- API keys -----------------------------------------------------------------------------------------
export const API_KEY_POSITIVES: TPositive[] = [
  { text: ADA.apiToken },
  { text: `api_token: ${ADA.apiToken}`, value: ADA.apiToken },
  { text: "sk_test_4eC39HqLyjWDarjtT1zdp7dc" },
  { text: "pk_live_51HqLyjWDarjtT1zdp7dcAbCdEf" },
  { text: "rk_live_51HqLyjWDarjtT1zdp7dcAbCdEf" },
  { text: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLSgY" },
  { text: "acme_live_AbCdEf0123456789XyZ" },
  { text: "ghp_" + fromAlphabet(ALNUM, 36) },
  { text: "gho_" + fromAlphabet(ALNUM, 36) },
  { text: "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF" },
  { text: "glpat-" + fromAlphabet(ALNUM, 20) },
  { text: "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx" },
  { text: "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef" },
  { text: "npm_" + fromAlphabet(ALNUM, 36) },
  { text: "SG." + fromAlphabet(ALNUM, 22) + "." + fromAlphabet(ALNUM, 43) },
  { text: "sk-proj-" + "Ab3" + fromAlphabet(ALNUM, 45) },
  { text: "api_key=9f8e7d6c5b4a39281726354453627180", value: "9f8e7d6c5b4a39281726354453627180" },
  {
    text: "token: Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg==",
    value: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg==",
  },
  {
    text: "Authorization: Bearer ya29.A0ARrdaM-abcdefghijklmnopqrstuvwxyz0123",
    value: "ya29.A0ARrdaM-abcdefghijklmnopqrstuvwxyz0123",
  },
  { text: "Xk29fLq0aZ3vB7nR1mT8wY4cE6hJ2pS5uD9gK0", columnHint: "api_token" },
  { text: "123e4567-e89b-12d3-a456-426614174000", columnHint: "refresh_token" },
  ...Array.from({ length: 15 }, () => ({ text: "sk_live_" + fromAlphabet(HEX, 32) })),
  ...Array.from({ length: 5 }, () => ({
    text: `client_secret=${fromAlphabet(ALNUM, 40)}`,
    value: undefined as string | undefined,
  })).map((p) => ({ ...p, value: p.text.slice("client_secret=".length) })),
];
export const API_KEY_NEGATIVES: TNegative[] = [
  { text: "sk_live_short" },
  { text: "ghp_short" },
  { text: "xoxb" },
  { text: "the_live_show" },
  { text: "sk-learn-compatible-version-string" },
  { text: "d41d8cd98f00b204e9800998ecf8427e" }, // an md5 with no keyword near it
  { text: "token_type=bearer" },
  { text: "session token: 123e4567-e89b-12d3-a456-426614174000" },
  { text: "api_key_rotation_schedule_for_production_accounts" },
  { text: "Bearer realm" },
  { text: "commit 9f8e7d6c5b4a39281726354453627180aabbccdd merged" },
];

// --- password hashes ----------------------------------------------------------------------------------
export const PASSWORD_HASH_POSITIVES: TPositive[] = [
  { text: "$2b$12$" + fromAlphabet(CRYPT64, 53) },
  { text: "$2a$10$" + fromAlphabet(CRYPT64, 53) },
  { text: "$2y$08$" + fromAlphabet(CRYPT64, 53) },
  { text: "$argon2id$v=19$m=65536,t=3,p=4$" + fromAlphabet(B64, 22) + "$" + fromAlphabet(B64, 43) },
  { text: "$argon2i$v=19$m=4096,t=3,p=1$" + fromAlphabet(B64, 16) + "$" + fromAlphabet(B64, 32) },
  { text: "$scrypt$ln=16,r=8,p=1$" + fromAlphabet(B64, 22) + "$" + fromAlphabet(B64, 43) },
  { text: "$7$C6..../....SodiumChloride$" + fromAlphabet(CRYPT64, 43) },
  { text: "$y$j9T$" + fromAlphabet(CRYPT64, 22) + "$" + fromAlphabet(CRYPT64, 43) },
  { text: "$5$" + fromAlphabet(CRYPT64, 16) + "$" + fromAlphabet(CRYPT64, 43) },
  { text: "$6$rounds=5000$" + fromAlphabet(CRYPT64, 16) + "$" + fromAlphabet(CRYPT64, 86) },
  { text: "$6$" + fromAlphabet(CRYPT64, 8) + "$" + fromAlphabet(CRYPT64, 86) },
  { text: "$1$" + fromAlphabet(CRYPT64, 8) + "$" + fromAlphabet(CRYPT64, 22) },
  { text: "$apr1$" + fromAlphabet(CRYPT64, 8) + "$" + fromAlphabet(CRYPT64, 22) },
  { text: "md5" + fromAlphabet(HEX, 32) },
  { text: "md5" + "a".repeat(32) },
  {
    text:
      "SCRAM-SHA-256$4096:" +
      fromAlphabet(B64, 22) +
      "==$" +
      fromAlphabet(B64, 43) +
      "=:" +
      fromAlphabet(B64, 43) +
      "=",
  },
  { text: "pbkdf2_sha256$600000$" + fromAlphabet(ALNUM, 22) + "$" + fromAlphabet(B64, 43) + "=" },
  ...Array.from({ length: 10 }, () => ({ text: "$2b$12$" + fromAlphabet(CRYPT64, 53) })),
];
export const PASSWORD_HASH_NEGATIVES: TNegative[] = [
  { text: "$2b$12$short" },
  { text: "$6$salt$tooshort" },
  { text: "md5" + "a".repeat(31) },
  { text: "md5" + "A".repeat(32) },
  { text: "price $5$ each" },
  { text: "SCRAM-SHA-256" },
  { text: "$argon2id$" },
  { text: "the md5 checksum matched" },
];

export const POSITIVES: Record<TDetectorId, TPositive[]> = {
  email: EMAIL_POSITIVES,
  phone: PHONE_POSITIVES,
  us_ssn: SSN_POSITIVES,
  payment_card: CARD_POSITIVES,
  iban: IBAN_POSITIVES,
  ip_address: IP_POSITIVES,
  jwt: JWT_POSITIVES,
  private_key: PRIVATE_KEY_POSITIVES,
  cloud_key: CLOUD_KEY_POSITIVES,
  api_key: API_KEY_POSITIVES,
  password_hash: PASSWORD_HASH_POSITIVES,
};
export const NEGATIVES: Record<TDetectorId, TNegative[]> = {
  email: EMAIL_NEGATIVES,
  phone: PHONE_NEGATIVES,
  us_ssn: SSN_NEGATIVES,
  payment_card: CARD_NEGATIVES,
  iban: IBAN_NEGATIVES,
  ip_address: IP_NEGATIVES,
  jwt: JWT_NEGATIVES,
  private_key: PRIVATE_KEY_NEGATIVES,
  cloud_key: CLOUD_KEY_NEGATIVES,
  api_key: API_KEY_NEGATIVES,
  password_hash: PASSWORD_HASH_NEGATIVES,
};

/** Ordinary cells that must produce no detection at all. */
export const CLEAN_TEXT: string[] = [
  "London",
  "Ada Lovelace",
  "Widget Pro 3000",
  "129.99",
  "42",
  "1815-12-10",
  "2024-01-15 10:30:00+00",
  "2024-01-15T10:30:00.123456Z",
  "1 day 02:03:04",
  "123e4567-e89b-12d3-a456-426614174000",
  "true",
  '{"a": 1, "b": [1, 2, 3]}',
  "a typical note about an order that shipped late",
  "select id, email from customers where id = 42",
  'ERROR:  relation "customers" does not exist',
  'duplicate key value violates unique constraint "customers_pkey"',
  "value too long for type character varying(10)",
  'column "ssn" is of type integer but expression is of type text',
  "LINE 1: select * from customers where id = 123456789",
  "https://example.com/path?page=2&size=50",
  "v1.2.3",
  "PostgreSQL 16.2 on x86_64-pc-linux-gnu, compiled by gcc (GCC) 12.2.0, 64-bit",
  "order_id=98765 total=1234.56 currency=EUR",
  "-71.0589, 42.3601",
  "1705312200",
  "3.141592653589793",
  "SELECT 1",
  "(1,2,3)",
  "INSERT 0 1",
  "2001",
  "lorem ipsum dolor sit amet, consectetur adipiscing elit",
  "user_id: 123456, status: active",
];

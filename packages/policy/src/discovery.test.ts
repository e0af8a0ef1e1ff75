import { describe, expect, it } from "vitest";
import { ADA, luhnCheckDigit } from "./__fixtures__/detector-corpus.ts";
import {
  classifyColumns,
  suggestMaskingRules,
  ZColumnClassification,
  type TColumnClassification,
  type TTableSample,
} from "./discovery.ts";

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(42);
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret"];
const LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton"];
const timestamp = () =>
  `2024-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)} 1${Math.floor(rand() * 9)}:${10 + Math.floor(rand() * 49)}:00+00`;

const N = 40;
/** The demo's customers table, Ada's row first (apps/demo/src/demo-data.ts). */
const customers: TTableSample = {
  table: "customers",
  columns: [
    { name: "id", dataType: "integer", samples: times(N, (i) => String(i + 1)) },
    {
      name: "full_name",
      dataType: "text",
      samples: ["Ada Lovelace", ...times(N - 1, () => `${pick(FIRST)} ${pick(LAST)}`)],
    },
    {
      name: "email",
      dataType: "text",
      samples: [
        ADA.email,
        ...times(N - 1, (i) => `${pick(FIRST)}.${pick(LAST)}${i}@example.com`.toLowerCase()),
      ],
    },
    {
      name: "phone",
      dataType: "text",
      samples: [ADA.phone, ...times(N - 1, () => `+1 (555) 01${digits(1)}-${digits(4)}`), null],
    },
    {
      name: "ssn",
      dataType: "text",
      samples: [
        ADA.ssn,
        ...times(
          N - 1,
          () =>
            `${100 + Math.floor(rand() * 565)}-${10 + Math.floor(rand() * 89)}-${1000 + Math.floor(rand() * 8999)}`,
        ),
      ],
    },
    {
      name: "credit_card",
      dataType: "text",
      samples: [
        ADA.card,
        ...times(N - 1, () => {
          const partial = `4${digits(14)}`;
          return (partial + luhnCheckDigit(partial)).replace(/(\d{4})(?=\d)/g, "$1 ");
        }),
      ],
    },
    {
      name: "api_token",
      dataType: "text",
      samples: [ADA.apiToken, ...times(N - 1, () => `sk_live_${hex(32)}`)],
    },
    {
      name: "city",
      dataType: "text",
      samples: times(N, () => pick(["London", "Paris", "Boston", "Zurich", "Austin", "Berlin"])),
    },
    {
      name: "birth_date",
      dataType: "date",
      samples: times(
        N,
        () => `19${50 + Math.floor(rand() * 50)}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`,
      ),
    },
    { name: "created_at", dataType: "timestamp with time zone", samples: times(N, timestamp) },
  ],
};

/** Orders: ids, totals, timestamps, and a 16-digit order number that passes Luhn one time in ten. */
const orderNumbers = times(N, (i) => {
  const partial = `4${digits(14)}`;
  const check = luhnCheckDigit(partial);
  return partial + (i % 10 === 0 ? check : String((Number(check) + 1) % 10));
});
const orders: TTableSample = {
  table: "orders",
  columns: [
    { name: "id", dataType: "bigint", samples: times(N, (i) => String(1000 + i)) },
    {
      name: "customer_id",
      dataType: "integer",
      samples: times(N, () => String(1 + Math.floor(rand() * 200))),
    },
    { name: "order_number", dataType: "bigint", samples: orderNumbers },
    { name: "external_id", dataType: "bigint", samples: times(N, () => `4${digits(15)}`) },
    {
      name: "product",
      dataType: "text",
      samples: times(N, () => pick(["Widget", "Gadget Pro", "Sprocket 3000"])),
    },
    { name: "quantity", dataType: "integer", samples: times(N, () => String(1 + Math.floor(rand() * 5))) },
    { name: "total", dataType: "numeric(10,2)", samples: times(N, () => (10 + rand() * 990).toFixed(2)) },
    { name: "created_at", dataType: "timestamptz", samples: times(N, timestamp) },
    { name: "shipped_at", dataType: "text", samples: times(N, timestamp) },
    { name: "tracking_ref", dataType: "text", samples: times(N, () => digits(9)) },
    { name: "epoch_ms", dataType: "bigint", samples: times(N, () => `17${digits(11)}`) },
  ],
};

const byColumn = (result: TColumnClassification[]) =>
  Object.fromEntries(result.map((c) => [`${c.table}.${c.column}`, c]));

describe("classifyColumns on the demo tables", () => {
  const result = classifyColumns([customers, orders]);
  const found = byColumn(result);

  it("flags exactly the sensitive customer columns", () => {
    expect(Object.keys(found)).toEqual([
      "customers.full_name",
      "customers.email",
      "customers.phone",
      "customers.ssn",
      "customers.credit_card",
      "customers.api_token",
      "customers.birth_date",
    ]);
  });

  it.each([
    ["customers.full_name", "person_name", ["name"]],
    ["customers.email", "email", ["name", "values"]],
    ["customers.phone", "phone", ["name", "values"]],
    ["customers.ssn", "us_ssn", ["name", "values"]],
    ["customers.credit_card", "payment_card", ["name", "values"]],
    ["customers.api_token", "secret", ["name", "values"]],
    ["customers.birth_date", "date_of_birth", ["name"]],
  ])("%s is %s from %j", (column, category, evidence) => {
    expect(found[column]).toMatchObject({ category, evidence });
    expect(found[column]!.confidence).toBeGreaterThanOrEqual(0.8);
  });

  it("returns schema-valid classifications with a strategy and a rule name", () => {
    for (const c of result) ZColumnClassification.parse(c);
    expect(found["customers.ssn"]).toMatchObject({
      suggestedStrategy: "redact",
      suggestedRuleName: "Mask US SSN in customers.ssn",
    });
    expect(found["customers.credit_card"]!.suggestedStrategy).toBe("partial");
    expect(found["customers.birth_date"]!.suggestedStrategy).toBe("format_preserving");
  });

  it("suggests one masking rule per flagged column", () => {
    expect(suggestMaskingRules(result)).toEqual([
      {
        name: "Mask secret in customers.api_token",
        columnPattern: "customers.api_token",
        strategy: "redact",
      },
      {
        name: "Mask date of birth in customers.birth_date",
        columnPattern: "customers.birth_date",
        strategy: "format_preserving",
      },
      {
        name: "Mask card number in customers.credit_card",
        columnPattern: "customers.credit_card",
        strategy: "partial",
      },
      { name: "Mask email in customers.email", columnPattern: "customers.email", strategy: "partial" },
      {
        name: "Mask person name in customers.full_name",
        columnPattern: "customers.full_name",
        strategy: "hash",
      },
      { name: "Mask phone in customers.phone", columnPattern: "customers.phone", strategy: "partial" },
      { name: "Mask US SSN in customers.ssn", columnPattern: "customers.ssn", strategy: "redact" },
    ]);
  });
});

/** Classify one column; undefined when it is not judged sensitive. */
function one(name: string, dataType = "text", samples: (string | null)[] = [], table = "t") {
  return classifyColumns([{ table, columns: [{ name, dataType, samples }] }])[0];
}

describe("name evidence", () => {
  it.each([
    ["ssn", "us_ssn"],
    ["SSN", "us_ssn"],
    ["social_security_number", "us_ssn"],
    ["socialSecurityNumber", "us_ssn"],
    ["customer_ssn", "us_ssn"],
    ["ssn_encrypted", "us_ssn"],
    ["email", "email"],
    ["e_mail", "email"],
    ["E-Mail", "email"],
    ["eMail", "email"],
    ["emailAddress", "email"],
    ["email_address", "email"],
    ["contact_email", "email"],
    ["email_2", "email"],
    ["phone", "phone"],
    ["phone_number", "phone"],
    ["phoneNumber", "phone"],
    ["mobile", "phone"],
    ["mobile_phone", "phone"],
    ["home_phone", "phone"],
    ["telephone", "phone"],
    ["fax", "phone"],
    ["msisdn", "phone"],
    ["card_number", "payment_card"],
    ["credit_card", "payment_card"],
    ["creditCardNumber", "payment_card"],
    ["cc_num", "payment_card"],
    ["ccNum", "payment_card"],
    ["cc_number", "payment_card"],
    ["pan", "payment_card"],
    ["iban", "iban"],
    ["bank_iban", "iban"],
    ["api_token", "secret"],
    ["apiToken", "secret"],
    ["api_key", "secret"],
    ["apiKey", "secret"],
    ["access_token", "secret"],
    ["refresh_token", "secret"],
    ["client_secret", "secret"],
    ["secret", "secret"],
    ["private_key", "secret"],
    ["password", "secret"],
    ["password_hash", "password_hash"],
    ["passwordDigest", "password_hash"],
    ["encrypted_password", "password_hash"],
    ["hashed_password", "password_hash"],
    ["pwd_hash", "password_hash"],
    ["dob", "date_of_birth"],
    ["DOB", "date_of_birth"],
    ["birth_date", "date_of_birth"],
    ["birthdate", "date_of_birth"],
    ["dateOfBirth", "date_of_birth"],
    ["date_of_birth", "date_of_birth"],
    ["birthday", "date_of_birth"],
    ["full_name", "person_name"],
    ["first_name", "person_name"],
    ["lastName", "person_name"],
    ["surname", "person_name"],
    ["given_name", "person_name"],
    ["customer_name", "person_name"],
    ["address", "address"],
    ["street_address", "address"],
    ["home_address", "address"],
    ["billing_address", "address"],
    ["address_line1", "address"],
    ["addressLine2", "address"],
    ["street", "address"],
    ["ip", "ip_address"],
    ["ip_address", "ip_address"],
    ["IPAddress", "ip_address"],
    ["last_login_ip", "ip_address"],
    ["client_ip", "ip_address"],
    ["ipv4", "ip_address"],
    ["remote_addr", "ip_address"],
    ["tax_id", "national_id"],
    ["passport_number", "national_id"],
  ])("%s → %s", (name, category) => {
    const c = one(name);
    expect(c, name).toBeDefined();
    expect(c).toMatchObject({ category, evidence: ["name"] });
  });

  it.each([
    ["description", "text"],
    ["emailed_at", "timestamptz"],
    ["email_verified", "boolean"],
    ["email_verified", "text"],
    ["is_email", "boolean"],
    ["email_count", "integer"],
    ["phone_verified", "boolean"],
    ["phoneVerified", "text"],
    ["has_phone", "boolean"],
    ["ip_count", "integer"],
    ["zip", "text"],
    ["city", "text"],
    ["country", "text"],
    ["card_type", "text"],
    ["card_last4", "text"],
    ["card_expiry", "text"],
    ["token_type", "text"],
    ["tokens_used", "integer"],
    ["token_expires_at", "timestamptz"],
    ["secretary", "text"],
    ["secret_question_id", "integer"],
    ["address_id", "integer"],
    ["mac_address", "text"],
    ["email_address_id", "integer"],
    ["company_name", "text"],
    ["file_name", "text"],
    ["product_name", "text"],
    ["host_name", "text"],
    ["name", "text"],
    ["password_changed_at", "timestamptz"],
    ["password_reset_required", "boolean"],
    ["birth_year", "integer"],
    ["birth_place", "text"],
    ["ssn_last4", "text"],
    ["primary_key", "text"],
    ["public_key", "text"],
    ["idempotency_key", "text"],
    ["cc", "text"],
    ["email", "timestamp"],
    ["phone", "boolean"],
    ["mobile", "boolean"],
    ["ip", "integer"],
    ["full_name", "integer"],
    ["api_token", "integer"],
  ])("%s (%s) is not flagged by name", (name, dataType) => {
    expect(one(name, dataType)).toBeUndefined();
  });

  it("treats a bare 'name' as a person's name only in a table of people", () => {
    expect(one("name", "text", [], "public.customers")).toMatchObject({ category: "person_name" });
    expect(one("name", "text", [], "employees")).toMatchObject({ category: "person_name" });
    expect(one("name", "text", [], "products")).toBeUndefined();
  });
});

describe("value evidence", () => {
  const emails = times(10, (i) => `person${i}@example.com`);

  it("flags an innocently named column whose values are emails", () => {
    expect(one("contact", "text", emails)).toMatchObject({ category: "email", evidence: ["values"] });
  });

  it.each([
    ["card", times(10, () => "4111 1111 1111 1111"), "payment_card"],
    ["ssn", times(10, () => "078-05-1120"), "us_ssn"],
    ["phone", times(10, () => "+44 20 7946 0958"), "phone"],
    ["iban", times(10, () => "DE89 3704 0044 0532 0130 00"), "iban"],
    ["ip", times(10, (i) => `10.0.${i}.17`), "ip_address"],
    ["jwt", times(10, () => "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"), "secret"],
    ["stripe", times(10, () => `sk_live_${hex(32)}`), "secret"],
    ["bcrypt", times(10, () => "$2b$12$" + "a".repeat(53)), "password_hash"],
  ])("flags a column of %s values", (_, samples, category) => {
    expect(one("legacy_field", "text", samples)).toMatchObject({ category, evidence: ["values"] });
  });

  it("needs at least 3 non-null samples for value-only evidence", () => {
    expect(one("contact", "text", emails.slice(0, 2))).toBeUndefined();
    expect(one("contact", "text", [...emails.slice(0, 2), null, null, ""])).toBeUndefined();
    expect(one("contact", "text", emails.slice(0, 3))).toMatchObject({ category: "email" });
  });

  it("needs a clear majority of matching samples", () => {
    const half = [...emails.slice(0, 5), ...times(5, () => "n/a")];
    expect(one("contact", "text", half)).toBeUndefined();
    const most = [...emails.slice(0, 7), ...times(3, () => "n/a")];
    expect(one("contact", "text", most)).toMatchObject({ category: "email" });
  });

  it("suggests redaction when values are embedded in free text", () => {
    const notes = times(10, (i) => `Customer asked us to write to person${i}@example.com about the refund`);
    expect(one("notes", "text", notes)).toMatchObject({ category: "email", suggestedStrategy: "redact" });
  });

  it("does not call a column of random 9-digit ids SSNs", () => {
    const ids = times(50, () => `${1 + Math.floor(rand() * 8)}${digits(8)}`);
    expect(one("reference", "text", ids)).toBeUndefined();
    expect(one("reference", "integer", ids)).toBeUndefined();
    expect(one("ssn", "text", ids)).toMatchObject({ category: "us_ssn", evidence: ["name", "values"] });
  });

  it("does not call 16-digit ids cards even when most of them pass Luhn", () => {
    const luhnIds = times(20, () => {
      const partial = `4${digits(14)}`;
      return partial + luhnCheckDigit(partial);
    });
    expect(one("id", "bigint", luhnIds)).toBeUndefined();
    expect(one("order_id", "bigint", luhnIds)).toBeUndefined();
  });

  it("does not call timestamps, dates or epochs phones", () => {
    expect(one("happened", "text", times(20, timestamp))).toBeUndefined();
    expect(
      one(
        "happened",
        "text",
        times(20, () => `17${digits(8)}`),
      ),
    ).toBeUndefined();
    expect(
      one(
        "happened",
        "text",
        times(20, () => `2024-0${1 + Math.floor(rand() * 9)}-1${digits(1)}`),
      ),
    ).toBeUndefined();
  });

  it("ignores the values of boolean and temporal columns", () => {
    expect(
      one(
        "flag",
        "boolean",
        times(10, () => "true"),
      ),
    ).toBeUndefined();
    expect(one("seen", "timestamptz", times(10, timestamp))).toBeUndefined();
  });

  it("lets values name the precise kind behind a generic name", () => {
    const hashes = times(10, () => "$2b$12$" + "a".repeat(53));
    expect(one("password", "text", hashes)).toMatchObject({
      category: "password_hash",
      evidence: ["name", "values"],
    });
  });

  it("keeps a name match whose values do not look like it, with less confidence", () => {
    const named = one(
      "ssn",
      "text",
      times(10, () => "REDACTED"),
    )!;
    expect(named).toMatchObject({ category: "us_ssn", evidence: ["name"] });
    expect(named.confidence).toBeLessThan(one("ssn")!.confidence);
  });
});

describe("a realistic mixed schema", () => {
  const users: TTableSample = {
    table: "app.users",
    columns: [
      {
        name: "id",
        dataType: "uuid",
        samples: times(10, () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`),
      },
      {
        name: "emailAddress",
        dataType: "character varying(255)",
        samples: times(10, (i) => `u${i}@example.org`),
      },
      { name: "emailed_at", dataType: "timestamp without time zone", samples: times(10, timestamp) },
      { name: "email_verified", dataType: "boolean", samples: times(10, () => "true") },
      { name: "phone_verified", dataType: "boolean", samples: times(10, () => "false") },
      { name: "ip_count", dataType: "integer", samples: times(10, () => String(Math.floor(rand() * 20))) },
      { name: "last_login_ip", dataType: "inet", samples: times(10, (i) => `203.0.113.${i + 1}`) },
      { name: "description", dataType: "text", samples: times(10, () => "Loves databases") },
      { name: "encrypted_password", dataType: "text", samples: times(10, () => "$2a$10$" + "b".repeat(53)) },
      { name: "session_data", dataType: "jsonb", samples: times(10, () => '{"theme":"dark"}') },
      { name: "dateOfBirth", dataType: "date", samples: times(10, () => "1990-01-01") },
      { name: "company_name", dataType: "text", samples: times(10, () => "Acme Ltd") },
      { name: "zip", dataType: "text", samples: times(10, () => digits(5)) },
    ],
  };

  it("flags only the sensitive columns", () => {
    const found = byColumn(classifyColumns([users]));
    expect(Object.fromEntries(Object.entries(found).map(([k, v]) => [k, v.category]))).toEqual({
      "app.users.emailAddress": "email",
      "app.users.last_login_ip": "ip_address",
      "app.users.encrypted_password": "password_hash",
      "app.users.dateOfBirth": "date_of_birth",
    });
  });
});

describe("suggestMaskingRules", () => {
  it("keeps the first classification of a column and sorts by pattern", () => {
    const c = (table: string, column: string, strategy: TColumnClassification["suggestedStrategy"]) =>
      ({
        table,
        column,
        category: "email",
        confidence: 0.9,
        evidence: ["name"],
        suggestedStrategy: strategy,
        suggestedRuleName: `rule ${table}.${column} ${strategy}`,
      }) satisfies TColumnClassification;
    expect(suggestMaskingRules([c("b", "x", "hash"), c("a", "y", "redact"), c("b", "x", "null")])).toEqual([
      { name: "rule a.y redact", columnPattern: "a.y", strategy: "redact" },
      { name: "rule b.x hash", columnPattern: "b.x", strategy: "hash" },
    ]);
  });
});

// The demo database: realistic-looking customers with PII (all fictitious) and their orders.
// Generated deterministically so every fresh demo shows the same rows.

const FIRST = [
  "Grace",
  "Alan",
  "Katherine",
  "Edsger",
  "Barbara",
  "Donald",
  "Margaret",
  "Linus",
  "Radia",
  "Ken",
  "Frances",
  "Dennis",
  "Hedy",
  "John",
  "Sophie",
  "Tim",
  "Adele",
  "Niklaus",
  "Shafi",
  "Leslie",
];
const LAST = [
  "Hopper",
  "Turing",
  "Johnson",
  "Dijkstra",
  "Liskov",
  "Knuth",
  "Hamilton",
  "Torvalds",
  "Perlman",
  "Thompson",
  "Allen",
  "Ritchie",
  "Lamarr",
  "McCarthy",
  "Wilson",
  "Berners-Lee",
  "Goldberg",
  "Wirth",
  "Goldwasser",
  "Lamport",
];
const PRODUCTS = [
  "Analytical Engine",
  "Difference Engine",
  "Punch cards (box)",
  "Brass gears",
  "Loom controller",
  "Notes on the Engine",
];

/** Deterministic PRNG (mulberry32), so the seed data is the same on every machine. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnComplete(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return partial + String((10 - (sum % 10)) % 10);
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const DEMO_CUSTOMER_COUNT = 200;

export function demoDatabaseSql(): string {
  const rand = prng(1815);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");

  const rows = [
    `(${q("Ada Lovelace")}, ${q("ada.lovelace@example.com")}, ${q("+1 (555) 010-1815")}, ${q("078-05-1120")}, ${q("4111 1111 1111 1111")}, ${q("sk_live_51Ada" + hex(24))}, 'London', '1815-12-10')`,
  ];
  for (let i = 2; i <= DEMO_CUSTOMER_COUNT; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const card = luhnComplete(`4${digits(14)}`).replace(/(\d{4})(?=\d)/g, "$1 ");
    const ssn = `${String(100 + Math.floor(rand() * 565)).padStart(3, "0")}-${digits(2).replace(/^00$/, "10")}-${digits(4).replace(/^0000$/, "1000")}`;
    rows.push(
      `(${q(`${first} ${last}`)}, ${q(`${first}.${last}${i}@example.com`.toLowerCase())}, ${q(`+1 (555) 01${digits(1)}-${digits(4)}`)}, ${q(ssn)}, ${q(card)}, ${q(`sk_live_${hex(32)}`)}, ${q(pick(["London", "Paris", "Boston", "Zurich", "Austin", "Berlin"]))}, ${q(`19${50 + Math.floor(rand() * 50)}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`)})`,
    );
  }
  const orders: string[] = [];
  for (let i = 1; i <= DEMO_CUSTOMER_COUNT * 3; i++) {
    const customer = 1 + Math.floor(rand() * DEMO_CUSTOMER_COUNT);
    orders.push(
      `(${customer}, ${q(pick(PRODUCTS))}, ${1 + Math.floor(rand() * 5)}, ${(10 + rand() * 990).toFixed(2)}, now() - interval '${Math.floor(rand() * 365)} days')`,
    );
  }
  return `
    create table if not exists customers (
      id serial primary key,
      full_name text not null,
      email text not null unique,
      phone text,
      ssn text,
      credit_card text,
      api_token text,
      city text,
      birth_date date,
      created_at timestamptz not null default now()
    );
    create table if not exists orders (
      id serial primary key,
      customer_id int not null references customers(id),
      product text not null,
      quantity int not null,
      total numeric(10,2) not null,
      ordered_at timestamptz not null default now()
    );
    insert into customers (full_name, email, phone, ssn, credit_card, api_token, city, birth_date) values
    ${rows.join(",\n    ")};
    insert into orders (customer_id, product, quantity, total, ordered_at) values
    ${orders.join(",\n    ")};
  `;
}

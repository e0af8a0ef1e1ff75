// `npm run bench:decision`: how long the policy engine takes to decide one statement, uncached (the parser
// runs) and cached (same text seen before), including guardrails and the masking decision.
import {
  AnalysisCache,
  compileGuardrails,
  compileMaskingRules,
  evaluateGuardrails,
  initParser,
  PRODUCTION_BASELINE,
  statementMasking,
} from "@portcullis/policy";

await initParser();
const rules = compileGuardrails(PRODUCTION_BASELINE.map((r, i) => ({ ...r, id: `b${i}` })));
const masking = compileMaskingRules(
  ["email", "phone", "ssn", "credit_card", "api_token"].map((c) => ({
    id: c,
    name: c,
    columnPattern: `customers.${c}`,
    detector: null,
    strategy: "partial" as const,
    exemptIdentities: [],
    exemptGroups: [],
  })),
  { identityName: "dev@demo.local", groups: [] },
);
const ctx = {
  environment: "production",
  identityName: "dev@demo.local",
  identityKind: "human" as const,
  groups: [],
};

const STATEMENTS: [string, (i: number) => string][] = [
  ["pgbench -S select", (i) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`],
  [
    "3-table join",
    (i) =>
      `select c.full_name, o.total, p.name from customers c join orders o on o.customer_id = c.id join products p on p.id = o.product_id where c.id = ${i}`,
  ],
  [
    "masked CTE + functions",
    (i) =>
      `with t as (select ssn as s, lower(email) as e from customers where id > ${i}) select s || '', e, count(*) over () from t`,
  ],
  [
    "update with subquery",
    (i) =>
      `update orders set total = total * 1.1 where customer_id in (select id from customers where city = 'c${i}')`,
  ],
];

function decide(cache: AnalysisCache, sql: string): void {
  const analysis = cache.analyze(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  for (const s of analysis.statements) {
    evaluateGuardrails(s, ctx, rules);
    statementMasking(s, masking);
  }
}

const N = 50_000;
process.stdout.write("policy decision per statement (parse + guardrails + masking), µs\n");
process.stdout.write("statement                    uncached   cached\n");
for (const [label, make] of STATEMENTS) {
  // Cached first, on a cache holding only what a busy session would: the uncached loop below fills the
  // heap with parse results, and GC from that would be charged to the cached figure.
  const hot = new AnalysisCache();
  const same = make(1);
  for (let i = 0; i < 20_000; i++) decide(hot, same); // warm up the JIT
  let t = performance.now();
  for (let i = 0; i < N; i++) decide(hot, same);
  const cached = ((performance.now() - t) / N) * 1000;
  const cold = new AnalysisCache(100);
  for (let i = 0; i < 2000; i++) decide(cold, make(i));
  t = performance.now();
  for (let i = 0; i < N; i++) decide(cold, make(10_000 + i)); // distinct text: every call parses
  const uncached = ((performance.now() - t) / N) * 1000;
  process.stdout.write(
    `${label.padEnd(28)} ${uncached.toFixed(1).padStart(8)} ${cached.toFixed(1).padStart(8)}\n`,
  );
}

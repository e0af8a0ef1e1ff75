// Case-insensitive name lookups. Prisma's `mode: "insensitive"` equals is ILIKE on Postgres, which reads `_`
// and `%` in the value as wildcards: "j_doe@corp.example" would find "jadoe@corp.example", and "%" every
// name. Lookups escape the value and re-check what comes back, so a match is case-insensitive equality
// whatever SQL Prisma emits.

/** Escapes LIKE's metacharacters; backslash is Postgres's default LIKE escape. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A Prisma filter for candidates named `value` in any case; confirm them with `sameName`. */
export function nameInAnyCase(value: string) {
  return { equals: escapeLike(value), mode: "insensitive" as const };
}

/** Case-insensitive equality by Unicode's default case mapping: the same whatever the server's locale. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The rows, in their order, whose name equals `name` in any case. */
export function named<T extends { name: string }>(rows: T[], name: string): T[] {
  return rows.filter((row) => sameName(row.name, name));
}

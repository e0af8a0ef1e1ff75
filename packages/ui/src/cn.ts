/** Joins class names, skipping falsy ones. No merging of conflicting utilities: components keep theirs minimal. */
export function cn(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(" ");
}

// Where a rule saved from the editor applies: where it already was. A rule listed for a connection is its
// own, its environment's or a global one; saving it elsewhere would change what it governs (an
// environment's `allow` rule saved as global would open every other environment).
export type TSavedRuleScope = { connectionId: string } | { environment: string | null };

export function scopeForSave(
  rule: { scope: "connection" | "environment" | "global"; environment: string | null } | null,
  connectionId: string,
): TSavedRuleScope {
  if (!rule || rule.scope === "connection") return { connectionId };
  // The rule's own environment, not the page's: the connection may have moved since the page loaded.
  return { environment: rule.scope === "environment" ? rule.environment : null };
}

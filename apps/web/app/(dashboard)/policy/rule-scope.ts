// Where a rule saved from the editor applies. A rule listed for a connection is its own, its environment's
// or a global one (listConnectionRules); saving it must keep that scope: an environment's `allow` rule
// saved as global would open every other environment.
export type TSavedRuleScope = { connectionId: string } | { environment: string | null };

export function scopeForSave(
  rule: { scope: "connection" | "environment" | "global" } | null,
  connection: { id: string; environment: string },
): TSavedRuleScope {
  if (!rule || rule.scope === "connection") return { connectionId: connection.id };
  return { environment: rule.scope === "environment" ? connection.environment : null };
}

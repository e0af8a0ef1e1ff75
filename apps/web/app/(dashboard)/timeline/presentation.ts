// How audit values read on screen. Pure, so it is unit-tested without a browser.
import type { TAuditEventDto } from "@portcullis/api";
import type { TBadgeTone } from "@portcullis/ui";

type TDecision = TAuditEventDto["decision"];

export const DECISIONS: { value: TDecision; label: string; tone: TBadgeTone }[] = [
  { value: "allowed", label: "Allowed", tone: "green" },
  { value: "masked", label: "Masked", tone: "amber" },
  { value: "blocked", label: "Blocked", tone: "red" },
  { value: "pending_approval", label: "Pending approval", tone: "blue" },
  { value: "approved", label: "Approved", tone: "teal" },
  { value: "denied", label: "Denied", tone: "rose" },
  { value: "error", label: "Error", tone: "orange" },
];

export function decisionPresentation(decision: TDecision): { label: string; tone: TBadgeTone } {
  return DECISIONS.find((d) => d.value === decision) ?? { label: decision, tone: "neutral" };
}

const ACTOR_KINDS: Record<string, { label: string; tone: TBadgeTone }> = {
  human: { label: "Human", tone: "neutral" },
  service: { label: "Service", tone: "blue" },
  ai_agent: { label: "AI agent", tone: "violet" },
};

export function actorKindPresentation(kind: string): { label: string; tone: TBadgeTone } {
  return ACTOR_KINDS[kind] ?? { label: kind, tone: "neutral" };
}

export function formatDuration(ms: number | null): string | null {
  if (ms === null) return null;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatRows(count: number | null): string | null {
  if (count === null) return null;
  return `${count.toLocaleString("en-US")} ${count === 1 ? "row" : "rows"}`;
}

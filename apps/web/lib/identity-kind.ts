// How the dashboard names and colours each kind of identity (the timeline's badges have their own).
import type { TBadgeTone } from "@portcullis/ui";

export const IDENTITY_KIND = {
  human: { label: "person", tone: "blue" },
  service: { label: "service", tone: "teal" },
  ai_agent: { label: "AI agent", tone: "violet" },
} as const satisfies Record<string, { label: string; tone: TBadgeTone }>;

export type TIdentityKindName = keyof typeof IDENTITY_KIND;

/** The kind's name, or the kind as given when it is not one the dashboard knows. */
export function identityKindOf(kind: string): { label: string; tone: TBadgeTone } | null {
  return kind in IDENTITY_KIND ? IDENTITY_KIND[kind as TIdentityKindName] : null;
}

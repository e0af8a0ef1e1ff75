import type { TBadgeTone } from "@portcullis/ui";

export const RISK_TONE: Record<string, TBadgeTone> = { high: "red", medium: "amber", low: "green" };
export const STATUS_TONE: Record<string, TBadgeTone> = {
  pending: "amber",
  approved: "green",
  denied: "red",
  expired: "neutral",
  cancelled: "neutral",
};

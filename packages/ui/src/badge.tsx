import type { ReactNode } from "react";
import { cn } from "./cn.ts";

// Spelled out so Tailwind's scanner sees every class.
const tones = {
  neutral: "bg-slate-100 text-slate-700 ring-slate-500/20",
  green: "bg-emerald-50 text-emerald-800 ring-emerald-600/25",
  red: "bg-red-50 text-red-800 ring-red-600/25",
  amber: "bg-amber-50 text-amber-800 ring-amber-600/30",
  blue: "bg-sky-50 text-sky-800 ring-sky-600/25",
  teal: "bg-teal-50 text-teal-800 ring-teal-600/25",
  rose: "bg-rose-50 text-rose-800 ring-rose-600/25",
  violet: "bg-violet-50 text-violet-800 ring-violet-600/25",
  orange: "bg-orange-50 text-orange-800 ring-orange-600/25",
} as const;

export type TBadgeTone = keyof typeof tones;

export function Badge({
  tone = "neutral",
  className,
  children,
}: {
  tone?: TBadgeTone;
  className?: string;
  children: ReactNode;
}) {
  return (
    <span
      className={cn(
        "inline-flex items-center whitespace-nowrap rounded-md px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset",
        tones[tone],
        className,
      )}
    >
      {children}
    </span>
  );
}

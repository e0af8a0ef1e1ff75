import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { PolicyEditor } from "./policy-editor.tsx";

export const metadata: Metadata = { title: "Policy" };

export default async function PolicyPage() {
  const session = await requireSession("/policy");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Policy</h1>
        <p className="mt-1 text-sm text-slate-500">
          Guardrails and masking rules per connection. A saved change reaches the agents within a second: the
          next statement of an open session already obeys it.
        </p>
      </div>
      <PolicyEditor canEdit={session.user.roles.includes("admin")} />
    </div>
  );
}

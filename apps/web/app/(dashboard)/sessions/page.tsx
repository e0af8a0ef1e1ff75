import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { LiveSessions } from "./live-sessions.tsx";

export const metadata: Metadata = { title: "Sessions" };

export default async function SessionsPage() {
  const session = await requireSession("/sessions");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Live sessions</h1>
        <p className="mt-1 text-sm text-slate-500">
          Who is connected through the agents right now. Ending a session closes it within seconds; the client
          is told an administrator ended it, and the timeline records who did and why.
        </p>
      </div>
      <LiveSessions canEnd={session.user.roles.includes("admin")} />
    </div>
  );
}

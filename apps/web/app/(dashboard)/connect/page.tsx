import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { MyConnections, RequestAccess } from "./my-connections.tsx";

export const metadata: Metadata = { title: "Connect" };

export default async function ConnectPage() {
  await requireSession("/connect");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Connect</h1>
        <p className="mt-1 text-sm text-slate-500">
          The databases you may reach. Each connection string carries a short-lived credential signed for you:
          the agent checks it offline, and it stops working when it expires or your access is revoked.
        </p>
      </div>
      <MyConnections />
      <RequestAccess />
    </div>
  );
}

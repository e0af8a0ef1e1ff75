import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { Card } from "@portcullis/ui";
import { getSession } from "../../auth.ts";
import { Logo } from "../logo.tsx";
import { LoginForm } from "./login-form.tsx";

export const metadata: Metadata = { title: "Sign in" };

/** Only same-site paths: a crafted ?callbackUrl=https://evil.example must not turn sign-in into a redirector. */
function safeCallbackUrl(value: string | string[] | undefined): string {
  const url = Array.isArray(value) ? value[0] : value;
  return url && url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\") ? url : "/timeline";
}

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const callbackUrl = safeCallbackUrl((await searchParams).callbackUrl);
  if (await getSession()) redirect(callbackUrl);

  return (
    <main className="flex min-h-dvh items-center justify-center px-4 py-12">
      <div className="w-full max-w-sm">
        <div className="mb-8 flex flex-col items-center gap-3 text-center">
          <span className="flex size-11 items-center justify-center rounded-xl bg-slate-900 text-white shadow-sm">
            <Logo className="size-6" />
          </span>
          <div>
            <h1 className="text-xl font-semibold tracking-tight">Sign in to Portcullis</h1>
            <p className="mt-1 text-sm text-slate-500">Every query attributable, governed and provable.</p>
          </div>
        </div>
        <Card className="p-6">
          <LoginForm callbackUrl={callbackUrl} />
        </Card>
      </div>
    </main>
  );
}

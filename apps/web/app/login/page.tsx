import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { Alert, Card } from "@portcullis/ui";
import { getSession, ssoDisplayName } from "../../auth.ts";
import { env } from "../../env.ts";
import { Logo } from "../logo.tsx";
import { safeCallbackUrl } from "./callback-url.ts";
import { LoginForm } from "./login-form.tsx";
import { signInErrorMessage } from "./sign-in-errors.ts";
import { SsoButton } from "./sso-button.tsx";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const params = await searchParams;
  const callbackUrl = safeCallbackUrl(params.callbackUrl, env.PUBLIC_URL);
  if (await getSession()) redirect(callbackUrl);
  const error = signInErrorMessage(params.error);
  const sso = ssoDisplayName();

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
        <Card className="flex flex-col gap-5 p-6">
          {error ? <Alert title={error} /> : null}
          {sso ? (
            <>
              <SsoButton displayName={sso} callbackUrl={callbackUrl} />
              <div className="flex items-center gap-3 text-xs text-slate-400">
                <span className="h-px flex-1 bg-slate-200" />
                or with your password
                <span className="h-px flex-1 bg-slate-200" />
              </div>
            </>
          ) : null}
          <LoginForm callbackUrl={callbackUrl} />
        </Card>
      </div>
    </main>
  );
}

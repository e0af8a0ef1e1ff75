"use client";

import { Button } from "@portcullis/ui";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { useHydrated } from "../../lib/use-hydrated.ts";

/** Starts the OpenID Connect flow; the provider sends the person back to callbackUrl, signed in. */
export function SsoButton({ displayName, callbackUrl }: { displayName: string; callbackUrl: string }) {
  const [pending, setPending] = useState(false);
  const hydrated = useHydrated();

  function onClick() {
    setPending(true);
    // On success the browser leaves for the provider; only a failure to reach our own server comes back here.
    signIn("oidc", { callbackUrl }).catch(() => setPending(false));
  }

  return (
    <Button
      variant="secondary"
      className="w-full"
      disabled={pending || !hydrated}
      aria-busy={pending}
      onClick={onClick}
    >
      {pending ? "Redirecting…" : `Sign in with ${displayName}`}
    </Button>
  );
}

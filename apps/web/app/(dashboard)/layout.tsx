import type { ReactNode } from "react";
import { getSession } from "../../auth.ts";
import { Logo } from "../logo.tsx";
import { NavLinks } from "./nav-links.tsx";
import { SignOutButton } from "./sign-out-button.tsx";

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const session = await getSession();
  // Every dashboard page calls requireSession(itsPath), which sends a signed-out visitor to the login page
  // and back to that page afterwards; the layout cannot know the path, so it only renders the page here.
  if (!session?.user.id) return <>{children}</>;
  const { user } = session;

  return (
    <div className="flex min-h-dvh flex-col">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b border-slate-800 bg-slate-900 text-slate-100">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-3 px-4 sm:gap-6 sm:px-6">
          <a
            href="/timeline"
            className="flex shrink-0 items-center gap-2 font-semibold tracking-tight text-white"
          >
            <Logo className="size-5" />
            Portcullis
          </a>
          <NavLinks />
          <div className="ml-auto flex shrink-0 items-center gap-3">
            <div className="hidden text-right leading-tight sm:block">
              <p className="text-sm font-medium text-white">{user.name}</p>
              <p className="text-xs text-slate-400">{user.email}</p>
            </div>
            <SignOutButton />
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto w-full max-w-7xl flex-1 px-4 py-6 sm:px-6">
        {children}
      </main>
    </div>
  );
}

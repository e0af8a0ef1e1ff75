"use client";

import { cn } from "@portcullis/ui";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/connect", label: "Connect" },
  { href: "/overview", label: "Overview" },
  { href: "/timeline", label: "Timeline" },
  { href: "/sessions", label: "Sessions" },
  { href: "/approvals", label: "Approvals" },
  { href: "/policy", label: "Policy" },
  { href: "/identities", label: "Identities" },
  { href: "/agents", label: "Agents" },
  { href: "/streams", label: "Streams" },
  { href: "/connections/new", label: "Onboard" },
] as const;

export function NavLinks() {
  const pathname = usePathname();
  return (
    // Scrolls sideways on a phone rather than pushing the header wider than the screen.
    <nav aria-label="Main" className="min-w-0 overflow-x-auto">
      <ul className="flex items-center gap-1 whitespace-nowrap">
        {links.map((link) => {
          const active = pathname === link.href || pathname.startsWith(`${link.href}/`);
          return (
            <li key={link.href}>
              <Link
                href={link.href}
                aria-current={active ? "page" : undefined}
                className={cn(
                  "rounded-md px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-sky-400",
                  active ? "bg-slate-800 text-white" : "text-slate-300 hover:bg-slate-800 hover:text-white",
                )}
              >
                {link.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

import type { NextConfig } from "next";

const config: NextConfig = {
  // Workspace packages ship TypeScript sources (with .ts import specifiers); Next compiles them like app code.
  transpilePackages: [
    "@portcullis/api",
    "@portcullis/db",
    "@portcullis/ui",
    "@portcullis/agent-protocol",
    "@portcullis/policy",
  ],
  // Native-ish server dependencies stay in node_modules and are required at runtime, not bundled.
  serverExternalPackages: ["pg", "@prisma/adapter-pg", "@prisma/client", "pino", "ws", "libpg-query"],
  // The custom server (server.ts) is the entry point; no standalone output (Next cannot trace a custom server).
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;

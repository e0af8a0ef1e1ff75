// One lint setup for the whole workspace. Formatting is Prettier's job (eslint-config-prettier turns off
// the stylistic rules). The import boundaries below keep the layers from leaking into each other.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

const prisma = {
  group: ["@prisma/*", "**/generated/prisma/**", "prisma"],
  message: "Only @portcullis/db touches Prisma.",
};
const io = [
  {
    group: [
      "node:net",
      "node:tls",
      "node:http",
      "node:https",
      "node:fs",
      "node:fs/promises",
      "node:child_process",
      "pg",
      "postgres",
      "ws",
    ],
    message: "The policy engine is pure: no I/O.",
  },
  {
    group: ["@portcullis/db", "@portcullis/api", "@trpc/*", "next", "next/*"],
    message: "The policy engine is pure: no database, no tRPC, no web.",
  },
];

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/.next/**",
      "**/dist/**",
      "**/.data/**",
      "**/.tmp/**",
      "packages/db/src/generated/**",
      "**/next-env.d.ts",
      "e2e/test-results/**",
      "e2e/playwright-report/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        queueMicrotask: "readonly",
        fetch: "readonly",
        globalThis: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  // process.env is read once per app, in its env.ts (and by top-level tooling scripts).
  {
    files: ["apps/**/*.{ts,tsx}", "packages/**/*.{ts,tsx}"],
    ignores: [
      "apps/*/env.ts",
      "apps/*/src/env.ts",
      "**/*.test.ts",
      "apps/agent/bench/**",
      "packages/db/src/test-support.ts",
    ],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read configuration from the app's env.ts." },
      ],
    },
  },
  {
    files: ["apps/**/*.{ts,tsx}", "packages/{api,ui,agent-protocol}/**/*.{ts,tsx}", "e2e/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [prisma] }] },
  },
  {
    files: ["packages/policy/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [prisma, ...io] }] },
  },
  {
    files: ["packages/agent-protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            prisma,
            {
              group: ["@portcullis/*", "node:*", "ws", "pg"],
              message: "The contract package is zod schemas only.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["apps/agent/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            prisma,
            {
              group: ["@portcullis/db", "@portcullis/api", "@portcullis/ui"],
              message: "The agent talks to the control plane over its link only.",
            },
          ],
        },
      ],
    },
  },
  // Agent tests may set up databases and a real control-plane gateway; the agent code itself may not.
  {
    files: ["apps/agent/**/*.test.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [prisma] }] },
  },
  {
    files: ["packages/ui/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            prisma,
            {
              group: ["@portcullis/db", "@portcullis/api", "node:*"],
              message: "UI components are presentational.",
            },
          ],
        },
      ],
    },
  },
);

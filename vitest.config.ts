import { defineConfig } from "vitest/config";

// Two tiers run by vitest: unit tests next to the code, and integration tests (*.integration.test.ts)
// against a real Postgres (TEST_DATABASE_URL, default the local one). End-to-end tests are Playwright's (e2e/).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{apps,packages}/*/src/**/*.test.ts", "apps/web/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**", "**/.next/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["{apps,packages}/*/src/**/*.integration.test.ts"],
          exclude: ["**/node_modules/**"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

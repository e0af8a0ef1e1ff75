import { defineConfig } from "@playwright/test";

// End-to-end tier: the real product started with `npm start` (twice: embedded store, and the local
// Postgres via DATABASE_URL), real psql, real HTTP, and Debian's chromium (Playwright cannot download
// browsers on these machines).
export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  globalSetup: "./global-setup.ts",
  reporter: process.env.PLAYWRIGHT_JSON_OUTPUT_NAME ? [["list"], ["json"]] : [["list"]],
  projects: [
    { name: "api", testMatch: /api\/.*\.spec\.ts/ },
    {
      name: "ui",
      testMatch: /ui\/.*\.spec\.ts/,
      use: {
        browserName: "chromium",
        viewport: { width: 1400, height: 900 },
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-quic",
            "--no-first-run",
          ],
        },
        trace: "retain-on-failure",
        screenshot: "only-on-failure",
      },
    },
  ],
});

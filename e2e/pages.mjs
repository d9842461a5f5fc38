// Shared by the page tests (console.mjs, watch.mjs): the server under test
// from the environment tests/common/pages.rs sets (`E2E_BASE_URL`, the
// admin's `GOFLIX_ADMIN_EMAIL` and `GOFLIX_ADMIN_PASSWORD`, screenshots to
// `E2E_ARTIFACTS`), running one scenario in headless Chromium with its JSON
// report, signing in through the console's form, waiting on the page,
// axe-core's check and screenshots as test artifacts.
import { createRequire } from "node:module";
import path from "node:path";
import { launchChromium } from "./browser.mjs";

const require = createRequire(import.meta.url);
const axeSource = require("fs").readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** The server under test and the admin's credentials. */
export const server = {
  url: process.env.E2E_BASE_URL,
  email: process.env.GOFLIX_ADMIN_EMAIL,
  password: process.env.GOFLIX_ADMIN_PASSWORD,
};

/** Fails the script with `message` unless `condition`. */
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Signs in through the form at `/` and waits for the console's navigation. */
export async function signIn(page, email = server.email, password = server.password) {
  await page.goto(`${server.url}/`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Console" }).waitFor();
}

/**
 * Runs axe-core on the page (injected through the DevTools protocol, so the
 * page's own policy does not apply to it) and returns its `serious` and
 * `critical` violations as `{ id, impact, help, nodes }`.
 */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}

/** Checks `page` with axe and saves `{name}.png` in the artifacts folder; returns the screenshot's path. */
export async function audit(page, name) {
  const violations = await axeViolations(page);
  check(violations.length === 0, `axe on ${name}: ${JSON.stringify(violations)}`);
  const file = path.join(process.env.E2E_ARTIFACTS ?? ".", `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs `scenarios[name](page, context)` in a fresh browser context of
 * `viewport`, prints `{ ok, scenario, ...its result }` as one JSON line and
 * exits non-zero when it threw or the page raised an error.
 */
export async function runScenario(scenarios, name, viewport) {
  const browser = await launchChromium();
  let report;
  try {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => console.error(`[page ${message.type()}] ${message.text()}`));
    report = { ok: true, scenario: name, ...(await scenarios[name](page, context)) };
    check(errors.length === 0, `page errors: ${errors.join("; ")}`);
  } catch (error) {
    report = { ok: false, scenario: name, error: String(error?.stack ?? error) };
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
  process.exit(report.ok ? 0 : 1);
}

/** Waits until `predicate(arg)`, evaluated in `page`, is truthy; returns its value. */
export async function until(page, predicate, arg, what, timeout = 120_000) {
  const handle = await page.waitForFunction(predicate, arg, { timeout, polling: 100 }).catch((error) => {
    throw new Error(`timed out waiting for ${what}: ${error.message}`);
  });
  return handle.jsonValue();
}

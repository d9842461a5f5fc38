// The console in headless Chromium against `goflix serve` (run by
// tests/suite/console_pages.rs through tests/common/pages.rs).
// Usage: node console.mjs <scenario> [args]
//   upload <big.mp4> <small.mp4>  sign in; upload <big> through the file
//          chooser (upload throttled so its bar visibly moves) and <small>
//          by a drop; the transcode progress moves live; both reach ready
//          with a poster; axe on the sign-in page, the list during an
//          upload and after; the list fits 360 px
//   resume <big.mp4>   reload the page in the middle of a throttled upload,
//          pick the file again: it resumes past the stored offset
//   admin <needle>     create a user (who then signs in and sees no
//          videos), a service client (secret shown once) and a webhook (its
//          deliveries listed); search the list for <needle>; axe on each page
//   tabs               two tabs sharing one session both refresh their
//          tokens, repeatedly and at the same moments; neither is signed out
// Prints one JSON line: { ok, scenario, ...measurements, screenshots }.
import fs from "node:fs";
import { audit, check, runScenario, server, signIn, until } from "./pages.mjs";

const [scenario, ...args] = process.argv.slice(2);
const scenarios = { upload, resume, admin, tabs };
if (!scenarios[scenario]) {
  console.error("usage: node console.mjs <upload|resume|admin|tabs> [args]");
  process.exit(2);
}

await runScenario(scenarios, scenario, { width: 1280, height: 900 });

/** Limits the page's upload rate (DevTools network emulation), in bytes per second. */
async function throttleUploads(page, bytesPerSecond) {
  const session = await page.context().newCDPSession(page);
  await session.send("Network.enable");
  await session.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return session;
}


/** The card of the video titled `title`. */
function cardOf(page, title) {
  return page.locator(".video-card", { has: page.locator(".video-title", { hasText: title }) });
}

async function upload(page, context) {
  const [big, small] = args;
  await page.goto(`${server.url}/`);
  const screenshots = [await audit(page, "console-sign-in")];
  await signIn(page);
  await page.getByRole("heading", { name: "Your videos" }).waitFor();

  // Through the file chooser, throttled: the bar moves.
  const cdp = await throttleUploads(page, 3_000_000);
  const chooser = page.waitForEvent("filechooser");
  await page.getByText("Choose files").click();
  await (await chooser).setFiles(big);
  const bar = page.getByLabel("Upload of big.mp4");
  const seen = new Set();
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    const value = Number(await bar.getAttribute("value"));
    seen.add(Math.round(value));
    if (seen.size >= 3 && [...seen].some((v) => v > 0 && v < 100)) break;
    await page.waitForTimeout(100);
  }
  const uploadSteps = [...seen].sort((a, b) => a - b);
  check(uploadSteps.filter((v) => v > 0 && v < 100).length >= 2, `the upload bar moved: ${uploadSteps}`);
  screenshots.push(await audit(page, "console-uploading"));
  await until(page, () => document.querySelector(".upload .upload-status")?.textContent.startsWith("Uploaded"), null, "the end of the upload");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  // By a drop: a File built in the page from the small clip's bytes.
  const bytes = fs.readFileSync(small).toString("base64");
  await page.evaluate((base64) => {
    const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], "dropped.mp4", { type: "video/mp4" }));
    const zone = document.getElementById("drop-zone");
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, bytes);
  await page.getByLabel("Upload of dropped.mp4").waitFor();

  // The transcode progress of the big one moves without a reload.
  const progressSeen = new Set();
  const card = cardOf(page, "big");
  await card.waitFor();
  const transcodeStart = Date.now();
  while (Date.now() - transcodeStart < 180_000) {
    const state = await card.locator(".state").textContent();
    const bar = card.locator("progress.transcode");
    if ((await bar.count()) > 0) progressSeen.add(Math.round(Number(await bar.getAttribute("value"))));
    if (state === "ready") break;
    await page.waitForTimeout(100);
  }
  const transcodeSteps = [...progressSeen].sort((a, b) => a - b);
  check(transcodeSteps.filter((v) => v > 0 && v < 100).length >= 1, `the transcode progress moved: ${transcodeSteps}`);
  for (const title of ["big", "dropped"]) {
    const video = cardOf(page, title);
    await until(page, (t) => [...document.querySelectorAll(".video-card")].some((c) => c.querySelector(".video-title")?.textContent === t && c.querySelector(".state")?.textContent === "ready" && c.querySelector("img.poster")?.naturalWidth > 0), title, `${title} ready with a poster`);
    check((await video.count()) === 1, `one card for ${title}`);
  }
  // Details: URLs and the embed code.
  await cardOf(page, "big").getByText("Details").click();
  const hls = await cardOf(page, "big").getByLabel("HLS URL", { exact: true }).inputValue();
  check(hls.startsWith(server.url) && hls.endsWith("/master.m3u8"), `HLS URL ${hls}`);
  const embed = await cardOf(page, "big").getByLabel("Embed code", { exact: true }).inputValue();
  check(embed.startsWith(`<iframe src="${server.url}/embed/`), `embed code ${embed}`);
  screenshots.push(await audit(page, "console-videos"));

  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(200);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, `the console scrolls sideways at 360 px (${width} px wide)`);
  screenshots.push(await audit(page, "console-videos-360px"));
  return { upload_steps: uploadSteps, transcode_steps: transcodeSteps, screenshots };
}

async function resume(page) {
  const [big] = args;
  const size = fs.statSync(big).size;
  await signIn(page);
  await throttleUploads(page, 2_000_000);
  const offsets = [];
  page.on("request", (request) => {
    if (request.method() === "PATCH" && request.url().includes("/api/v1/uploads/tus/")) offsets.push(Number(request.headers()["upload-offset"]));
  });
  await page.locator("#upload-files").setInputFiles(big);
  // One 8 MiB chunk stored, the next one in flight: reload.
  await until(page, () => Number(document.querySelector(".upload progress")?.value ?? 0) > 75, null, "the upload past its first chunk", 60_000);
  const before = offsets.length;
  await page.reload();
  await page.getByRole("heading", { name: "Your videos" }).waitFor();
  await throttleUploads(page, -1);
  await page.locator("#upload-files").setInputFiles(big);
  await until(page, () => document.querySelector(".upload")?.dataset.resumed === "true", null, "the resumed upload");
  await until(page, () => document.querySelector(".upload .upload-status")?.textContent.startsWith("Uploaded"), null, "the end of the resumed upload");
  const after = offsets.slice(before);
  check(after.length > 0 && after[0] >= 8 * 1024 * 1024, `resumed at ${after[0]} of ${size}, not from the start: ${offsets}`);
  check(!after.includes(0), `nothing was sent again from byte 0: ${offsets}`);
  return { size, offsets, resumed_at: after[0] };
}

async function admin(page, context) {
  const [needle] = args;
  const screenshots = [];
  await signIn(page);
  // Search: only the matching title stays.
  await page.getByLabel("Search by title").fill(needle);
  await until(page, (n) => {
    const titles = [...document.querySelectorAll(".video-title")].map((e) => e.textContent);
    return titles.length > 0 && titles.every((t) => t.toLowerCase().includes(n.toLowerCase())) && titles;
  }, needle, `only titles with ${needle}`);
  const titles = await page.locator(".video-title").allTextContents();

  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { name: "Create a user" }).waitFor();
  const email = `person-${Date.now()}@example.test`;
  await page.getByLabel("E-mail", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill("a-long-password-123");
  await page.getByLabel("Role", { exact: true }).selectOption("uploader");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("cell", { name: email, exact: true }).waitFor();
  screenshots.push(await audit(page, "console-users"));

  const fresh = await context.browser().newContext();
  const other = await fresh.newPage();
  await signIn(other, email, "a-long-password-123");
  await other.getByText("No videos yet").waitFor();
  await fresh.close();

  await page.getByRole("link", { name: "Service clients" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Partner app");
  await page.getByRole("button", { name: "Register client" }).click();
  const secret = await page.locator("#new-secret").inputValue();
  check(secret.length >= 20, `a client secret is shown: ${secret.length} characters`);
  await page.getByRole("cell", { name: "Partner app", exact: true }).waitFor();
  screenshots.push(await audit(page, "console-clients"));
  await page.reload();
  await page.getByRole("cell", { name: "Partner app", exact: true }).waitFor();
  check((await page.locator("#new-secret").count()) === 0, "the secret is not shown again");

  await page.getByRole("link", { name: "Webhooks" }).click();
  const hook = "http://127.0.0.1:9/goflix-hook";
  await page.getByLabel("URL", { exact: true }).fill(hook);
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.getByRole("heading", { name: hook }).waitFor();
  check((await page.locator("#new-secret").inputValue()).length >= 16, "the signing secret is shown once");
  await page.getByRole("button", { name: `Deliveries of ${hook}` }).click();
  await page.getByText("No deliveries yet.").waitFor();
  screenshots.push(await audit(page, "console-webhooks"));
  return { titles, user: email, screenshots };
}

async function tabs(page, context) {
  await signIn(page);
  const [second] = await Promise.all([context.waitForEvent("page"), page.evaluate(() => window.open("/#/videos"))]);
  await second.getByRole("navigation", { name: "Console" }).waitFor();
  check(
    (await page.evaluate(() => sessionStorage.getItem("goflix.refresh"))) === (await second.evaluate(() => sessionStorage.getItem("goflix.refresh"))),
    "both tabs hold the same refresh token",
  );
  // Each round, the next users list of each tab is answered 401 once, so
  // both tabs refresh at the same moment.
  const rounds = 4;
  for (let round = 0; round < rounds; round += 1) {
    for (const tab of [page, second]) {
      let refused = false;
      await tab.route("**/api/v1/users?*", async (route) => {
        if (refused) return route.fallback();
        refused = true;
        await route.fulfill({ status: 401, contentType: "application/json", body: '{"code":"invalid_token","message":"expired"}' });
      });
    }
    await Promise.all([page, second].map((tab) => tab.evaluate(() => (location.hash = "#/users"))));
    await Promise.all([page, second].map((tab) => tab.getByRole("heading", { name: "Create a user" }).waitFor()));
    await Promise.all([page, second].map((tab) => tab.locator(".admin-table").waitFor()));
    for (const tab of [page, second]) await tab.unrouteAll();
    await Promise.all([page, second].map((tab) => tab.evaluate(() => (location.hash = "#/videos"))));
  }
  // Both still signed in: a fresh view loads in each, after a reload too.
  for (const tab of [page, second]) {
    await tab.reload();
    await tab.getByRole("heading", { name: "Your videos" }).waitFor();
    check((await tab.getByRole("button", { name: "Sign in" }).count()) === 0, "a tab was signed out");
  }
  const tokens = await Promise.all([page, second].map((tab) => tab.evaluate(() => sessionStorage.getItem("goflix.refresh"))));
  check(tokens[0] === tokens[1], "the tabs ended with the same refresh token");
  return { rounds };
}

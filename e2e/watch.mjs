// The watch and embed pages in headless Chromium against `goflix serve`
// (run by tests/suite/watch_pages.rs through tests/common/pages.rs).
// Usage: node watch.mjs <scenario> <video-id>
//   play     the watch page of a public, ready video plays past 3 s; the
//            quality menu switches renditions; hovering the seek bar shows a
//            storyboard thumbnail and clicking there seeks; keys seek and pause
//   live     the watch page of a video still encoding plays what is encoded
//   private  anonymous: a message and no player; signed in as the owner
//            (the admin) it plays, poster and storyboard thumbnails included
//   embed    /embed/{id}?autoplay=1&muted=1&start=2 plays inside an <iframe>
//            of a page on another origin
//   failed   the watch page of a video whose transcode failed says why
//   csp      an inline script and an inline handler injected into the watch
//            page's HTML do not run; the policy reports them
// Prints one JSON line: { ok, scenario, ...measurements, screenshots }.
import http from "node:http";
import { audit, check, runScenario, server, signIn, until } from "./pages.mjs";

const [scenario, id] = process.argv.slice(2);
const scenarios = { play, live, private: privateVideo, embed, failed, csp };
if (!scenarios[scenario] || !id) {
  console.error("usage: node watch.mjs <play|live|private|embed|failed|csp> <video-id>");
  process.exit(2);
}

await runScenario(scenarios, scenario, { width: 1280, height: 800 });


function mediaTime() {
  return document.querySelector("video.media")?.currentTime ?? 0;
}

async function play(page) {
  const storyboardImages = [];
  page.on("response", (response) => {
    if (response.url().includes("/storyboard.jpg")) storyboardImages.push(response.status());
  });
  await page.goto(`${server.url}/watch/${id}`);
  await until(page, () => (document.querySelector("video.media")?.currentTime ?? 0) > 3, null, "playback past 3 s");
  const screenshots = [await audit(page, "watch")];

  // Quality: pick the smallest rendition and see the decoded height follow.
  const quality = page.getByLabel("Quality");
  const options = await quality.locator("option").allTextContents();
  check(options.length >= 3, `quality menu offers Auto and at least two renditions: ${options}`);
  const smallest = options.slice(1).sort((a, b) => parseInt(a) - parseInt(b))[0];
  await quality.selectOption({ label: smallest });
  const height = parseInt(smallest);
  await until(page, (h) => document.querySelector("video.media").videoHeight === h, height, `the ${smallest} rendition`);

  // Storyboard: hover the seek bar at 60 %, a thumbnail appears; click there and playback seeks.
  const seek = page.getByLabel("Seek");
  const box = await seek.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  const preview = page.locator(".preview");
  await preview.waitFor({ state: "visible" });
  const thumb = await page.evaluate(() => {
    const element = document.querySelector(".preview .thumb");
    return { hidden: element.hidden, image: element.dataset.image ?? null, at: Number(document.querySelector(".preview").dataset.time) };
  });
  check(!thumb.hidden && thumb.image?.includes("storyboard.jpg"), `a storyboard thumbnail is shown: ${JSON.stringify(thumb)}`);
  await until(page, () => performance.getEntriesByType("resource").some((e) => e.name.includes("storyboard.jpg")), null, "the storyboard sprite");
  await page.mouse.click(box.x + box.width * 0.6, box.y + box.height / 2);
  const seekedTo = await until(page, (at) => Math.abs(document.querySelector("video.media").currentTime - at) < 1.5 && document.querySelector("video.media").currentTime, thumb.at, `a seek to ${thumb.at} s`);
  check(storyboardImages.every((status) => status === 200), `storyboard sprite answers ${storyboardImages}`);

  // Keyboard: k pauses, → skips 5 s, k plays again.
  await page.locator(".player-frame").focus();
  await page.keyboard.press("k");
  await until(page, () => document.querySelector("video.media").paused, null, "pause by key");
  const before = await page.evaluate(mediaTime);
  await page.keyboard.press("ArrowLeft");
  const after = await page.evaluate(mediaTime);
  check(Math.abs(before - 5 - after) < 0.6 || (before < 5 && after === 0), `← went back 5 s: ${before} → ${after}`);
  await page.keyboard.press("k");
  await until(page, () => !document.querySelector("video.media").paused, null, "play by key");

  // A phone: nothing wider than 360 px, the controls still reachable.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(200);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, `the watch page scrolls sideways at 360 px (${width} px wide)`);
  check(await page.getByLabel("Quality").isVisible(), "the quality menu is visible at 360 px");
  screenshots.push(await audit(page, "watch-360px"));
  return { quality: smallest, options, thumbnail_at: thumb.at, seeked_to: seekedTo, screenshots };
}

async function live(page) {
  await page.goto(`${server.url}/watch/${id}`);
  const status = await until(page, () => document.getElementById("status")?.textContent.includes("Still encoding") && document.getElementById("status").textContent, null, "the still-encoding note");
  await until(page, () => (document.querySelector("video.media")?.currentTime ?? 0) > 1, null, "playback of the encoded part");
  return { status };
}

async function privateVideo(page, context) {
  await page.goto(`${server.url}/watch/${id}`);
  const refused = await until(page, () => document.getElementById("status")?.textContent.includes("private") && document.getElementById("status").textContent, null, "the refusal");
  check((await page.locator("video").count()) === 0, "no player for an anonymous viewer");
  const screenshots = [await audit(page, "watch-private-anonymous")];

  const statuses = {};
  page.on("response", (response) => {
    const name = new URL(response.url()).pathname.split("/").pop();
    if (["poster.jpg", "storyboard.vtt", "storyboard.jpg"].includes(name)) statuses[name] = response.status();
  });
  await signIn(page);
  await page.goto(`${server.url}/watch/${id}`);
  await until(page, () => (document.querySelector("video.media")?.currentTime ?? 0) > 2, null, "the owner's playback");
  const seek = page.getByLabel("Seek");
  const box = await seek.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await until(page, () => !document.querySelector(".preview .thumb")?.hidden && document.querySelector(".preview .thumb")?.dataset.image, null, "a thumbnail");
  await until(page, () => performance.getEntriesByType("resource").some((e) => e.name.includes("storyboard.jpg")), null, "the storyboard sprite");
  await page.waitForTimeout(300);
  check(statuses["storyboard.vtt"] === 200 && statuses["storyboard.jpg"] === 200, `storyboard with the playback token: ${JSON.stringify(statuses)}`);
  check(statuses["poster.jpg"] === 200, `poster with the playback token: ${JSON.stringify(statuses)}`);
  await context.close();
  return { refused, statuses, screenshots };
}

async function embed(page) {
  // A page of another origin (another port) that frames the player.
  const host = http.createServer((_, response) => {
    response.setHeader("content-type", "text/html");
    response.end(`<!doctype html><title>Blog</title><h1>A blog post</h1>
      <iframe title="Goflix video" width="640" height="360" allow="autoplay; fullscreen"
        src="${server.url}/embed/${id}?autoplay=1&muted=1&start=2"></iframe>`);
  });
  await new Promise((resolve) => host.listen(0, "127.0.0.1", resolve));
  try {
    const blog = `http://127.0.0.1:${host.address().port}/`;
    check(new URL(blog).origin !== new URL(server.url).origin, "the framing page is on another origin");
    await page.goto(blog);
    const frame = await (await page.waitForSelector("iframe")).contentFrame();
    await frame.waitForSelector("video.media", { timeout: 30_000 });
    const time = await frame.waitForFunction(() => {
      const media = document.querySelector("video.media");
      return media.currentTime > 3.5 && { time: media.currentTime, muted: media.muted };
    }, null, { timeout: 60_000, polling: 100 });
    const state = await time.jsonValue();
    check(state.muted, "muted=1 mutes");
    const embedPage = await page.context().newPage();
    await embedPage.goto(`${server.url}/embed/${id}`);
    await embedPage.waitForSelector("video.media");
    const screenshots = [await audit(embedPage, "embed")];
    return { ...state, framed_by: blog, screenshots };
  } finally {
    host.close();
  }
}

async function failed(page) {
  await page.goto(`${server.url}/watch/${id}`);
  const status = await until(page, () => document.getElementById("status")?.textContent.includes("could not be processed") && document.getElementById("status").textContent, null, "the failure message");
  check((await page.locator("video").count()) === 0, "no player for a failed video");
  return { status };
}

async function csp(page) {
  const violations = [];
  await page.exposeFunction("__reportViolation", (v) => violations.push(v));
  await page.route(`${server.url}/watch/${id}`, async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replace(
      "</head>",
      '<script>window.__inlineRan = true;</script></head>',
    ).replace("</main>", '<img alt="" src="data:," onerror="window.__handlerRan = true"></main>');
    await route.fulfill({ response, body: html });
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      window.__reportViolation({ directive: event.effectiveDirective, blocked: event.blockedURI }),
    );
  });
  const response = await page.goto(`${server.url}/watch/${id}`);
  const policy = response.headers()["content-security-policy"];
  await until(page, () => (document.querySelector("video.media")?.currentTime ?? 0) > 1, null, "playback under the policy");
  const ran = await page.evaluate(() => ({ inline: window.__inlineRan === true, handler: window.__handlerRan === true }));
  check(!ran.inline && !ran.handler, `injected scripts ran: ${JSON.stringify(ran)}`);
  check(violations.some((v) => v.directive.startsWith("script-src")), `the policy reported the inline script: ${JSON.stringify(violations)}`);
  return { policy, violations };
}

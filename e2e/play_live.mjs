// Plays an HLS stream that may still be growing (EVENT playlists) with
// hls.js in headless Chromium, fast (playbackRate 8), until the video ends.
// Prints one JSON line: when playback first advanced (startedAtMs, wall
// clock), whether the video ended, the last currentTime and duration, the
// fatal player errors and whether the playlist was still live at start.
// Usage: node play_live.mjs <master-url> [timeout-seconds]
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [manifestUrl, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 240) * 1000;
if (!manifestUrl) {
  console.error("usage: node play_live.mjs <master-url> [timeout-seconds]");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (msg) => console.error(`[page ${msg.type()}] ${msg.text()}`));
  await page.goto(`${new URL(manifestUrl).origin}/healthz`);
  await page.setContent('<video id="v" muted playsinline style="width:640px"></video>');
  await page.addScriptTag({ path: require.resolve("hls.js/dist/hls.min.js") });
  await page.evaluate((manifestUrl) => {
    const video = document.getElementById("v");
    window.__errors = [];
    window.__live = null;
    // Start from the first segment, not the live edge, so "to the end"
    // means the whole video.
    const hls = new Hls({ startPosition: 0 });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) window.__errors.push(`${data.type}: ${data.details}`);
    });
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      if (window.__live === null) window.__live = data.details.live;
    });
    hls.loadSource(manifestUrl);
    hls.attachMedia(video);
    video.playbackRate = 8;
    video.addEventListener("playing", () => (video.playbackRate = 8));
    video.play().catch(() => {});
  }, manifestUrl);
  const deadline = Date.now() + timeoutMs;
  let startedAtMs = null;
  let state = {};
  while (Date.now() < deadline) {
    state = await page.evaluate(() => {
      const video = document.getElementById("v");
      return {
        time: video.currentTime,
        duration: video.duration,
        ended: video.ended,
        errors: window.__errors,
        liveAtStart: window.__live,
      };
    });
    if (startedAtMs === null && state.time > 0) startedAtMs = Date.now();
    if (state.errors.length > 0 || state.ended) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify({ manifestUrl, startedAtMs, ...state }));
  exitCode = state.errors.length === 0 && state.ended ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

// Plays a stream that may still be growing until the video ends, in
// headless Chromium: HLS (EVENT playlists) with hls.js, fast (playbackRate
// 8), or DASH (a dynamic MPD) with dash.js at the pace the MPD's clock
// allows. hls.js starts where the playlists say (EXT-X-START: the
// beginning); dash.js is asked for the beginning. Prints one JSON line: when
// playback first advanced (startedAtMs, wall clock), where it started
// (startPosition: the start of the first range played), whether the video
// ended, the last currentTime and duration, the fatal player errors and
// whether the stream was still live at start.
// Usage: node play_live.mjs <hls|dash> <manifest-url> [timeout-seconds]
import { launchChromium, playerScripts as scripts } from "./browser.mjs";

const [player, manifestUrl, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 240) * 1000;
if (!["hls", "dash"].includes(player) || !manifestUrl) {
  console.error("usage: node play_live.mjs <hls|dash> <manifest-url> [timeout-seconds]");
  process.exit(2);
}

const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (msg) => console.error(`[page ${msg.type()}] ${msg.text()}`));
  await page.goto(`${new URL(manifestUrl).origin}/healthz`);
  await page.setContent('<video id="v" muted playsinline style="width:640px"></video>');
  await page.addScriptTag({ path: scripts[player] });
  await page.evaluate(
    ({ player, manifestUrl }) => {
      const video = document.getElementById("v");
      window.__errors = [];
      window.__live = null;
      window.__ended = false;
      window.__startPosition = null;
      if (player === "hls") {
        const hls = new Hls();
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
      } else {
        const dash = dashjs.MediaPlayer().create();
        dash.on(dashjs.MediaPlayer.events.ERROR, (e) => {
          window.__errors.push(JSON.stringify(e.error ?? e));
        });
        dash.on(dashjs.MediaPlayer.events.MANIFEST_LOADED, (e) => {
          if (window.__live === null) window.__live = e.data.type === "dynamic";
        });
        // dash.js reports the end itself: after a dynamic MPD turns static
        // the element may stop a frame short of firing its own `ended`.
        dash.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, () => (window.__ended = true));
        // Autoplay through dash.js: its manifest refresh starts on the
        // player's own playback-started event.
        dash.initialize(video, manifestUrl, true, 0);
      }
    },
    { player, manifestUrl },
  );
  const deadline = Date.now() + timeoutMs;
  let startedAtMs = null;
  let state = {};
  while (Date.now() < deadline) {
    state = await page.evaluate(() => {
      const video = document.getElementById("v");
      // Where playback began: the start of the first range the element
      // played, taken the first time there is one. (currentTime in a
      // "playing" handler would do on an idle machine, but that handler can
      // run a few hundred milliseconds late, and at 8x the position has
      // moved on by seconds.)
      if (window.__startPosition === null && video.played.length > 0) {
        window.__startPosition = video.played.start(0);
      }
      return {
        time: video.currentTime,
        duration: video.duration,
        ended: video.ended || window.__ended,
        errors: window.__errors,
        liveAtStart: window.__live,
        startPosition: window.__startPosition,
      };
    });
    if (startedAtMs === null && state.time > 0) startedAtMs = Date.now();
    if (state.errors.length > 0 || state.ended) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify({ player, manifestUrl, startedAtMs, ...state }));
  exitCode = state.errors.length === 0 && state.ended ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

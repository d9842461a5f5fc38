// Plays a manifest with a real player (hls.js or dash.js) in headless
// Chromium and succeeds once playback time passes a threshold with no fatal
// player error. Prints a JSON report: `time` played, the video `levels`
// (heights) the player found, fatal `errors` and the non-fatal `warnings`
// it recovered from, for the caller to judge.
// Usage: node play.mjs <hls|dash> <manifest-url> [min-seconds]
import { launchChromium, playerScripts as scripts } from "./browser.mjs";

const [player, manifestUrl, minSecondsArg] = process.argv.slice(2);
const minSeconds = Number(minSecondsArg ?? 3);
if (!["hls", "dash"].includes(player) || !manifestUrl) {
  console.error("usage: node play.mjs <hls|dash> <manifest-url> [min-seconds]");
  process.exit(2);
}

const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (msg) => console.error(`[page ${msg.type()}] ${msg.text()}`));
  // Same-origin page so the test also exercises plain fetches; players still need CORS for tokens.
  const origin = new URL(manifestUrl).origin;
  await page.goto(`${origin}/healthz`);
  await page.setContent('<video id="v" muted playsinline style="width:640px"></video>');
  await page.addScriptTag({ path: scripts[player] });
  await page.evaluate(
    ({ player, manifestUrl }) => {
      const video = document.getElementById("v");
      window.__errors = [];
      window.__warnings = [];
      if (player === "hls") {
        if (!Hls.isSupported()) throw new Error("hls.js: MediaSource unsupported");
        const hls = new Hls();
        hls.on(Hls.Events.ERROR, (_e, data) => {
          const error = `${data.type}: ${data.details}`;
          (data.fatal ? window.__errors : window.__warnings).push(error);
        });
        hls.loadSource(manifestUrl);
        hls.attachMedia(video);
        window.__levels = () => hls.levels.map((l) => l.height);
      } else {
        const dash = dashjs.MediaPlayer().create();
        dash.on(dashjs.MediaPlayer.events.ERROR, (e) => {
          window.__errors.push(JSON.stringify(e.error ?? e));
        });
        dash.initialize(video, manifestUrl, true);
        window.__levels = () =>
          (dash.getRepresentationsByType ? dash.getRepresentationsByType("video") : []).map(
            (r) => r.height,
          );
      }
      video.play().catch(() => {});
    },
    { player, manifestUrl },
  );
  const deadline = Date.now() + 60_000;
  let state = {};
  while (Date.now() < deadline) {
    state = await page.evaluate(() => ({
      time: document.getElementById("v").currentTime,
      errors: window.__errors,
      warnings: window.__warnings,
      levels: window.__levels(),
      h264: MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f"'),
    }));
    if (state.errors.length > 0 || state.time > minSeconds) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(JSON.stringify({ player, manifestUrl, ...state }));
  exitCode = state.errors.length === 0 && state.time > minSeconds ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

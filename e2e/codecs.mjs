// Plays a manifest listing H.264 and AV1 (or HEVC) ladders with a real
// player (hls.js, dash.js or Shaka Player) in headless Chromium, each told
// to prefer AV1 where it can decode it, and reports which codec it chose.
// With `no-av1`, the page first makes AV1 undecodable for the players:
// `MediaSource.isTypeSupported`, `canPlayType` and
// `navigator.mediaCapabilities.decodingInfo` answer "no" for `av01`, as on
// a device without an AV1 decoder; the player must then fall back to
// H.264. Prints a JSON report: `time` played, `codec` (the video codec of
// the variant playing, as the player reports it), `media` (the video
// files it fetched), `av1Supported` and `hevcSupported` (what the page's
// MediaSource says) and fatal `errors`.
// Usage: node codecs.mjs <hls|dash|shaka> <manifest-url> <all|no-av1> [min-seconds]
import { launchChromium, playerScripts as scripts } from "./browser.mjs";

const [player, manifestUrl, mode, minSecondsArg] = process.argv.slice(2);
const minSeconds = Number(minSecondsArg ?? 2);
if (!["hls", "dash", "shaka"].includes(player) || !manifestUrl || !["all", "no-av1"].includes(mode)) {
  console.error("usage: node codecs.mjs <hls|dash|shaka> <manifest-url> <all|no-av1> [min-seconds]");
  process.exit(2);
}

const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (msg) => console.error(`[page ${msg.type()}] ${msg.text()}`));
  const media = new Set();
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".mp4") && !path.includes("/audio")) media.add(path.split("/").pop());
  });
  const origin = new URL(manifestUrl).origin;
  await page.goto(`${origin}/healthz`);
  await page.setContent('<video id="v" muted playsinline style="width:640px"></video>');
  if (mode === "no-av1") {
    await page.evaluate(() => {
      const isAv1 = (type) => /av01/i.test(String(type));
      const isTypeSupported = MediaSource.isTypeSupported.bind(MediaSource);
      MediaSource.isTypeSupported = (type) => !isAv1(type) && isTypeSupported(type);
      const canPlayType = HTMLMediaElement.prototype.canPlayType;
      HTMLMediaElement.prototype.canPlayType = function (type) {
        return isAv1(type) ? "" : canPlayType.call(this, type);
      };
      if (navigator.mediaCapabilities) {
        const decodingInfo = navigator.mediaCapabilities.decodingInfo.bind(navigator.mediaCapabilities);
        navigator.mediaCapabilities.decodingInfo = (config) =>
          isAv1(config?.video?.contentType)
            ? Promise.resolve({ supported: false, smooth: false, powerEfficient: false })
            : decodingInfo(config);
      }
    });
  }
  await page.addScriptTag({ path: scripts[player] });
  await page.evaluate(
    ({ player, manifestUrl }) => {
      const video = document.getElementById("v");
      window.__errors = [];
      if (player === "hls") {
        const hls = new Hls({ videoPreference: { videoCodec: "av01" } });
        hls.on(Hls.Events.ERROR, (_e, data) => {
          if (data.fatal) window.__errors.push(`${data.type}: ${data.details}`);
        });
        hls.loadSource(manifestUrl);
        hls.attachMedia(video);
        window.__codec = () => hls.levels[hls.currentLevel]?.videoCodec ?? null;
      } else if (player === "dash") {
        const dash = dashjs.MediaPlayer().create();
        dash.updateSettings({ streaming: { selectionModeForInitialTrack: "highestEfficiency" } });
        dash.on(dashjs.MediaPlayer.events.ERROR, (e) => {
          window.__errors.push(JSON.stringify(e.error ?? e));
        });
        dash.initialize(video, manifestUrl, true);
        window.__codec = () => dash.getCurrentTrackFor("video")?.codec ?? null;
      } else {
        shaka.polyfill.installAll();
        const shakaPlayer = new shaka.Player();
        shakaPlayer.configure({ preferredVideoCodecs: ["av01", "avc1"] });
        shakaPlayer.addEventListener("error", (e) => {
          if (e.detail?.severity === shaka.util.Error.Severity.CRITICAL) {
            window.__errors.push(`shaka ${e.detail.code}`);
          }
        });
        shakaPlayer
          .attach(video)
          .then(() => shakaPlayer.load(manifestUrl))
          .then(() => video.play())
          .catch((e) => window.__errors.push(`shaka load ${e.code ?? e}`));
        window.__codec = () => shakaPlayer.getVariantTracks().find((t) => t.active)?.videoCodec ?? null;
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
      codec: window.__codec(),
      errors: window.__errors,
      av1Supported: MediaSource.isTypeSupported('video/mp4; codecs="av01.0.08M.08"'),
      hevcSupported: MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L90.90"'),
    }));
    if (state.errors.length > 0 || state.time > minSeconds) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(JSON.stringify({ player, manifestUrl, mode, ...state, media: [...media].sort() }));
  exitCode = state.errors.length === 0 && state.time > minSeconds ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

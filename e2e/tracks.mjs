// Plays a manifest with a real player (hls.js, dash.js or Shaka Player) in
// headless Chromium and exercises its alternative tracks: lists the audio
// and text languages the player found, switches the audio language during
// playback (and records the media requests made after the switch, so the
// caller can check the player fetched the other rendition), shows the
// subtitles in one language and reads the text of the cue active at a
// given time through the TextTrack API. Prints a JSON report: `audio` and
// `text` languages, `audioAfterSwitch` (the language the player reports
// as playing after the switch), `requestsAfterSwitch` (URL paths), `cue`
// (the active cue's text, or null), `time` played and fatal `errors`.
// Usage: node tracks.mjs <hls|dash|shaka> <manifest-url> <switch-to-audio-language>
//          <text-language> <cue-time-seconds>
import { launchChromium, playerScripts as scripts } from "./browser.mjs";

const [player, manifestUrl, audioLanguage, textLanguage, cueTimeArg] = process.argv.slice(2);
const cueTime = Number(cueTimeArg);
if (!["hls", "dash", "shaka"].includes(player) || !manifestUrl || !textLanguage || !(cueTime > 0)) {
  console.error(
    "usage: node tracks.mjs <hls|dash|shaka> <manifest-url> <audio-language> <text-language> <cue-time-seconds>",
  );
  process.exit(2);
}

const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await browser.newPage();
  page.on("console", (msg) => console.error(`[page ${msg.type()}] ${msg.text()}`));
  const requests = [];
  page.on("request", (request) => requests.push({ at: Date.now(), url: request.url() }));
  const origin = new URL(manifestUrl).origin;
  await page.goto(`${origin}/healthz`);
  await page.setContent('<video id="v" muted playsinline style="width:640px"></video>');
  await page.addScriptTag({ path: scripts[player] });
  await page.evaluate(
    ({ player, manifestUrl }) => {
      const video = document.getElementById("v");
      window.__errors = [];
      // Each player behind the same four operations.
      if (player === "hls") {
        const hls = new Hls({ renderTextTracksNatively: true });
        hls.on(Hls.Events.ERROR, (_e, data) => {
          if (data.fatal) window.__errors.push(`${data.type}: ${data.details}`);
        });
        hls.loadSource(manifestUrl);
        hls.attachMedia(video);
        window.__tracks = {
          audio: () => hls.audioTracks.map((t) => t.lang),
          text: () => hls.subtitleTracks.map((t) => t.lang),
          selectAudio: (lang) => {
            hls.audioTrack = hls.audioTracks.findIndex((t) => t.lang === lang);
          },
          currentAudio: () => hls.audioTracks[hls.audioTrack]?.lang ?? null,
          selectText: (lang) => {
            hls.subtitleDisplay = true;
            hls.subtitleTrack = hls.subtitleTracks.findIndex((t) => t.lang === lang);
          },
        };
      } else if (player === "dash") {
        const dash = dashjs.MediaPlayer().create();
        dash.on(dashjs.MediaPlayer.events.ERROR, (e) => {
          window.__errors.push(JSON.stringify(e.error ?? e));
        });
        dash.initialize(video, manifestUrl, true);
        window.__tracks = {
          audio: () => dash.getTracksFor("audio").map((t) => t.lang),
          text: () => dash.getTracksFor("text").map((t) => t.lang),
          selectAudio: (lang) => {
            const track = dash.getTracksFor("audio").find((t) => t.lang === lang);
            dash.setCurrentTrack(track);
          },
          currentAudio: () => dash.getCurrentTrackFor("audio")?.lang ?? null,
          selectText: (lang) => {
            dash.enableText(true);
            const index = dash.getTracksFor("text").findIndex((t) => t.lang === lang);
            dash.setTextTrack(index);
          },
        };
      } else {
        shaka.polyfill.installAll();
        const shakaPlayer = new shaka.Player();
        shakaPlayer.addEventListener("error", (e) => {
          if (e.detail?.severity === shaka.util.Error.Severity.CRITICAL) {
            window.__errors.push(`shaka ${e.detail.code}`);
          }
        });
        const audioTrack = (lang) => shakaPlayer.getAudioTracks().find((t) => t.language === lang);
        window.__tracks = {
          audio: () => [...new Set(shakaPlayer.getAudioTracks().map((t) => t.language))],
          text: () => shakaPlayer.getTextTracks().map((t) => t.language),
          selectAudio: (lang) => shakaPlayer.selectAudioTrack(audioTrack(lang)),
          currentAudio: () => shakaPlayer.getAudioTracks().find((t) => t.active)?.language ?? null,
          selectText: (lang) => {
            shakaPlayer.selectTextTrack(shakaPlayer.getTextTracks().find((t) => t.language === lang));
          },
        };
        shakaPlayer
          .attach(video)
          .then(() => shakaPlayer.load(manifestUrl))
          .then(() => video.play())
          .catch((e) => window.__errors.push(`shaka load ${e.code ?? e}`));
      }
      // The text of the cues active now on every showing or hidden track.
      window.__activeCues = () =>
        Array.from(video.textTracks)
          .filter((t) => t.mode !== "disabled")
          .flatMap((t) => Array.from(t.activeCues ?? []).map((c) => c.text));
      video.play().catch(() => {});
    },
    { player, manifestUrl },
  );

  const state = () =>
    page.evaluate(() => ({
      time: document.getElementById("v").currentTime,
      errors: window.__errors,
      audio: window.__tracks.audio(),
      text: window.__tracks.text(),
    }));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 60_000;
  let report = await state();
  // Playing, with both kinds of tracks listed.
  while (Date.now() < deadline) {
    report = await state();
    if (report.errors.length > 0) break;
    if (report.time > 0.3 && report.audio.length > 0 && report.text.length > 0) break;
    await sleep(250);
  }
  let switchedAt = Date.now();
  if (report.errors.length === 0) {
    await page.evaluate(
      ({ audioLanguage, textLanguage }) => {
        window.__tracks.selectAudio(audioLanguage);
        window.__tracks.selectText(textLanguage);
      },
      { audioLanguage, textLanguage },
    );
    switchedAt = Date.now();
  }
  let cue = null;
  while (Date.now() < deadline && report.errors.length === 0) {
    report = await state();
    const cues = await page.evaluate(() => window.__activeCues());
    if (report.time >= cueTime && cues.length > 0) {
      cue = cues.join("\n");
      break;
    }
    await sleep(200);
  }
  const audioAfterSwitch = await page.evaluate(() => window.__tracks.currentAudio());
  const requestsAfterSwitch = requests
    .filter((r) => r.at >= switchedAt)
    .map((r) => new URL(r.url).pathname);
  console.log(
    JSON.stringify({ player, manifestUrl, ...report, audioAfterSwitch, requestsAfterSwitch, cue }),
  );
  exitCode = report.errors.length === 0 && cue !== null ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

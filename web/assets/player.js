// The player of the watch and embed pages: hls.js where Media Source
// Extensions exist, the browser's own HLS elsewhere (Safari, iOS), with our
// controls — play, a seek bar that previews storyboard thumbnails, time,
// mute, audio language, subtitles, quality, fullscreen — and keyboard
// shortcuts:
//   Space / k  play or pause        ← / →  back or forward 5 s
//   j / l      back or forward 10 s  0–9    jump to 0 %–90 %
//   m          mute                  f      fullscreen
// Private videos pass a playback token, appended to every URL the page
// builds (the origin carries it into the playlists and storyboard cues).

import { clock, h, icon } from "./ui.js";

/**
 * Plays `video` (the API's view of it) in `container`. Options: `token`
 * (playback token), `autoplay`, `muted`, `start` (seconds).
 * Returns { element, media, destroy }.
 */
export function mountPlayer(container, video, { token = null, autoplay = false, muted = false, start = 0 } = {}) {
  const withToken = (url) => (url && token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url);
  const media = h("video", {
    class: "media",
    playsinline: true,
    preload: "metadata",
    poster: withToken(video.playback.poster),
    "aria-label": video.title,
  });
  media.muted = muted;
  const controls = buildControls(media);
  const root = h("div", { class: "player-frame", tabindex: "0", role: "group", "aria-label": `Video player: ${video.title}` }, media, controls.bar);
  container.replaceChildren(root);

  const source = withToken(video.playback.hls);
  let hls = null;
  if (self.Hls?.isSupported()) {
    hls = new self.Hls({ startPosition: start > 0 ? start : -1, enableWorker: true });
    hls.on(self.Hls.Events.MANIFEST_PARSED, (_, data) => controls.setLevels(data.levels.map((l) => l.height), hls));
    hls.on(self.Hls.Events.LEVEL_SWITCHED, (_, data) => controls.showLevel(data.level, hls));
    hls.on(self.Hls.Events.AUDIO_TRACKS_UPDATED, (_, data) => controls.setAudioTracks(data.audioTracks, hls));
    hls.on(self.Hls.Events.SUBTITLE_TRACKS_UPDATED, (_, data) => controls.setSubtitleTracks(data.subtitleTracks, hls));
    hls.on(self.Hls.Events.ERROR, (_, data) => {
      if (data.fatal) controls.fail(`Playback failed (${data.details}).`);
    });
    hls.loadSource(source);
    hls.attachMedia(media);
  } else if (media.canPlayType("application/vnd.apple.mpegurl")) {
    media.src = source;
    media.textTracks.addEventListener("addtrack", () => controls.setNativeSubtitles(media));
    if (start > 0) media.addEventListener("loadedmetadata", () => (media.currentTime = start), { once: true });
    controls.setLevels([], null);
  } else {
    controls.fail("This browser cannot play HLS.");
  }
  if (autoplay) {
    // Browsers refuse autoplay with sound until the person interacts; then it starts muted.
    media.play().catch(() => {
      media.muted = true;
      media.play().catch(() => {});
    });
  }
  if (video.playback.storyboard) loadStoryboard(withToken(video.playback.storyboard)).then(controls.setStoryboard, () => {});
  root.addEventListener("keydown", (event) => shortcut(event, media, root));
  return {
    element: root,
    media,
    destroy() {
      hls?.destroy();
      root.remove();
    },
  };
}

/** The control bar of `media` and the hooks the loaders fill in. */
function buildControls(media) {
  const play = h("button", { type: "button", class: "control play", "aria-label": "Play" }, icon("play"));
  const seek = h("input", { type: "range", class: "seek", min: "0", max: "0", step: "0.1", value: "0", "aria-label": "Seek" });
  const time = h("span", { class: "time", "aria-live": "off" }, "0:00 / 0:00");
  const mute = h("button", { type: "button", class: "control mute", "aria-label": "Mute", "aria-pressed": "false" }, icon("volume"));
  const quality = h("select", { class: "quality", "aria-label": "Quality" }, h("option", { value: "-1" }, "Auto"));
  const audio = h("select", { class: "audio-language", "aria-label": "Audio language", hidden: true });
  const subtitles = h("select", { class: "subtitles", "aria-label": "Subtitles", hidden: true });
  const fullscreen = h("button", { type: "button", class: "control fullscreen", "aria-label": "Full screen" }, icon("fullscreen"));
  const preview = h("div", { class: "preview", hidden: true }, h("div", { class: "thumb" }), h("span", { class: "preview-time" }));
  const message = h("p", { class: "player-message", role: "alert", hidden: true });
  const bar = h("div", { class: "controls" }, play, h("div", { class: "seek-wrap" }, seek, preview), time, mute, audio, subtitles, quality, fullscreen, message);
  let cues = [];
  let seeking = false;

  const update = () => {
    const duration = Number.isFinite(media.duration) ? media.duration : seekableEnd(media);
    seek.max = String(duration || 0);
    if (!seeking) seek.value = String(media.currentTime);
    time.textContent = `${clock(media.currentTime)} / ${clock(duration)}`;
    play.replaceChildren(icon(media.paused ? "play" : "pause"));
    play.setAttribute("aria-label", media.paused ? "Play" : "Pause");
    mute.replaceChildren(icon(media.muted ? "muted" : "volume"));
    mute.setAttribute("aria-pressed", String(media.muted));
  };
  for (const name of ["timeupdate", "durationchange", "play", "pause", "volumechange", "progress"]) media.addEventListener(name, update);
  play.addEventListener("click", () => (media.paused ? media.play().catch(() => {}) : media.pause()));
  media.addEventListener("click", () => (media.paused ? media.play().catch(() => {}) : media.pause()));
  mute.addEventListener("click", () => (media.muted = !media.muted));
  fullscreen.addEventListener("click", () => toggleFullscreen(bar.parentElement));
  seek.addEventListener("input", () => {
    seeking = true;
    showPreview(Number(seek.value));
  });
  seek.addEventListener("change", () => {
    seeking = false;
    media.currentTime = Number(seek.value);
    preview.hidden = true;
  });
  seek.addEventListener("pointermove", (event) => {
    const rect = seek.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    showPreview(fraction * Number(seek.max), fraction);
  });
  seek.addEventListener("pointerleave", () => (preview.hidden = true));

  function showPreview(at, fraction = Number(seek.max) ? at / Number(seek.max) : 0) {
    const cue = cues.find((c) => at >= c.start && at < c.end) ?? null;
    const thumb = preview.firstChild;
    if (cue) {
      thumb.style.backgroundImage = `url("${cue.image}")`;
      thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      thumb.style.width = `${cue.w}px`;
      thumb.style.height = `${cue.h}px`;
      thumb.dataset.image = cue.image;
    }
    thumb.hidden = !cue;
    preview.lastChild.textContent = clock(at);
    preview.style.left = `${(fraction * 100).toFixed(2)}%`;
    preview.dataset.time = String(at);
    preview.hidden = false;
  }

  return {
    bar,
    setLevels(heights, hls) {
      quality.replaceChildren(h("option", { value: "-1" }, "Auto"), ...heights.map((height, index) => h("option", { value: String(index) }, `${height}p`)));
      quality.disabled = heights.length === 0;
      quality.onchange = () => {
        if (hls) hls.currentLevel = Number(quality.value);
      };
    },
    showLevel(level, hls) {
      if (hls && hls.autoLevelEnabled) quality.options[0].textContent = `Auto (${hls.levels[level]?.height ?? "?"}p)`;
    },
    /** hls.js's audio renditions: a menu when there is more than one language. */
    setAudioTracks(tracks, hls) {
      audio.replaceChildren(...tracks.map((track, index) => h("option", { value: String(index), selected: index === hls.audioTrack }, trackName(track.name, track.lang))));
      audio.hidden = tracks.length < 2;
      audio.onchange = () => (hls.audioTrack = Number(audio.value));
    },
    /** hls.js's subtitle renditions: Off, then each language. */
    setSubtitleTracks(tracks, hls) {
      subtitles.replaceChildren(h("option", { value: "-1" }, "Subtitles off"), ...tracks.map((track, index) => h("option", { value: String(index) }, trackName(track.name, track.lang))));
      subtitles.hidden = tracks.length === 0;
      subtitles.onchange = () => {
        hls.subtitleDisplay = true;
        hls.subtitleTrack = Number(subtitles.value);
      };
    },
    /** The browser's own text tracks (native HLS): Off, then each one. */
    setNativeSubtitles(element) {
      const tracks = Array.from(element.textTracks).filter((t) => t.kind === "subtitles" || t.kind === "captions");
      subtitles.replaceChildren(h("option", { value: "-1" }, "Subtitles off"), ...tracks.map((track, index) => h("option", { value: String(index) }, trackName(track.label, track.language))));
      subtitles.hidden = tracks.length === 0;
      subtitles.onchange = () => tracks.forEach((track, index) => (track.mode = index === Number(subtitles.value) ? "showing" : "disabled"));
    },
    setStoryboard(loaded) {
      cues = loaded;
    },
    fail(text) {
      message.textContent = text;
      message.hidden = false;
    },
  };
}

/** A track's menu entry: its name, with its language when that adds something. */
function trackName(name, language) {
  if (!name) return language || "Unknown";
  return language && !name.includes(language) ? `${name} (${language})` : name;
}

/** The end of what can be played so far (a growing playlist has no duration). */
function seekableEnd(media) {
  return media.seekable.length ? media.seekable.end(media.seekable.length - 1) : 0;
}

/** The cues of a storyboard WebVTT: `{ start, end, image, x, y, w, h }`. */
async function loadStoryboard(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`storyboard: ${response.status}`);
  const text = await response.text();
  const base = new URL(url, location.href);
  const cues = [];
  for (const block of text.replace(/\r\n?/g, "\n").split("\n\n")) {
    const lines = block.split("\n").filter(Boolean);
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [start, end] = lines[timing].split("-->").map((t) => seconds(t.trim().split(/\s+/)[0]));
    const target = new URL(lines[timing + 1].trim(), base);
    const match = /^xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target.hash.slice(1));
    if (!match) continue;
    target.hash = "";
    const [x, y, w, h] = match.slice(1).map(Number);
    cues.push({ start, end, image: target.href, x, y, w, h });
  }
  return cues;
}

/** Seconds of a WebVTT timestamp (`01:02.500` or `00:01:02.500`). */
function seconds(stamp) {
  return stamp.split(":").reduce((total, part) => total * 60 + Number(part), 0);
}

function toggleFullscreen(element) {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else element.requestFullscreen?.().catch(() => {});
}

function shortcut(event, media, root) {
  if (event.target instanceof HTMLSelectElement || event.altKey || event.ctrlKey || event.metaKey) return;
  const onRange = event.target instanceof HTMLInputElement;
  const skip = (delta) => (media.currentTime = Math.max(0, media.currentTime + delta));
  const key = event.key;
  if (key === " " || key === "k") {
    if (event.target instanceof HTMLButtonElement && key === " ") return;
    media.paused ? media.play().catch(() => {}) : media.pause();
  } else if ((key === "ArrowLeft" || key === "ArrowRight") && !onRange) skip(key === "ArrowLeft" ? -5 : 5);
  else if (key === "j" || key === "l") skip(key === "j" ? -10 : 10);
  else if (key === "m") media.muted = !media.muted;
  else if (key === "f") toggleFullscreen(root);
  else if (/^[0-9]$/.test(key) && Number.isFinite(media.duration)) media.currentTime = (media.duration * Number(key)) / 10;
  else return;
  event.preventDefault();
}

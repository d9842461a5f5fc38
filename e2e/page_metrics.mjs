// Measures the pages in headless Chromium (benches/pages.sh runs it):
// first contentful paint and time to first frame (requestVideoFrameCallback,
// from navigation start) of the watch page of a ready video, against a
// reference page on another port that is nothing but a <video> and hls.js
// playing the same master playlist; first contentful paint of the console
// and the embed page; and the bytes each page transferred, by kind (our
// scripts, libraries, styles, HTML), as Resource Timing reports them
// (compressed sizes). Each page is loaded `runs` times in a fresh context
// (cold cache); medians are printed as one JSON line.
// Usage: node page_metrics.mjs <base-url> <video-id> [runs]
import http from "node:http";
import { createRequire } from "node:module";
import fs from "node:fs";
import { launchChromium } from "./browser.mjs";

const [base, id, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 7);
const require = createRequire(import.meta.url);
const hlsSource = fs.readFileSync(require.resolve("hls.js/dist/hls.min.js"));

// The reference: a bare page with hls.js, on its own port (so from another origin, through CORS).
const reference = http.createServer((request, response) => {
  if (request.url === "/hls.min.js") {
    response.setHeader("content-type", "text/javascript");
    return response.end(hlsSource);
  }
  response.setHeader("content-type", "text/html");
  response.end(`<!doctype html><meta charset="utf-8"><title>reference</title>
<video id="v" muted autoplay playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>const hls = new Hls(); hls.loadSource(${JSON.stringify(`${base}/v/${id}/master.m3u8`)}); hls.attachMedia(document.getElementById("v"));</script>`);
});
await new Promise((resolve) => reference.listen(0, "127.0.0.1", resolve));
const referenceUrl = `http://127.0.0.1:${reference.address().port}/`;

const browser = await launchChromium();
const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]) : null;
};

/** One cold load of `url`: FCP, first frame (when `video`), bytes by kind. */
async function load(url, video) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__firstFrame = null;
    const watch = () => {
      const media = document.querySelector("video");
      if (!media) return requestAnimationFrame(watch);
      media.requestVideoFrameCallback(() => (window.__firstFrame = performance.now()));
    };
    requestAnimationFrame(watch);
  });
  await page.goto(url);
  if (video) await page.waitForFunction(() => window.__firstFrame !== null, null, { timeout: 30_000 });
  else await page.waitForLoadState("networkidle");
  await page.waitForTimeout(200);
  const measured = await page.evaluate(() => {
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    const navigation = performance.getEntriesByType("navigation")[0];
    const bytes = { html: navigation.transferSize, own_js: 0, library_js: 0, css: 0, other: 0 };
    for (const entry of performance.getEntriesByType("resource")) {
      const path = new URL(entry.name).pathname;
      const kind = /\/assets\/(hls|tus)\./.test(path) || path.endsWith("hls.min.js")
        ? "library_js"
        : path.endsWith(".js") ? "own_js" : path.endsWith(".css") ? "css" : path.startsWith("/assets/") ? "other" : null;
      if (kind) bytes[kind] += entry.transferSize;
    }
    return { fcp: paint?.startTime ?? null, first_frame: window.__firstFrame, bytes };
  });
  await context.close();
  return measured;
}

async function measure(url, video) {
  const samples = [];
  for (let i = 0; i < runs; i += 1) samples.push(await load(url, video));
  const out = { fcp_ms: median(samples.map((s) => s.fcp)) };
  if (video) out.first_frame_ms = median(samples.map((s) => s.first_frame));
  out.bytes = samples.at(-1).bytes;
  return out;
}

try {
  const report = {
    runs,
    watch: await measure(`${base}/watch/${id}`, true),
    reference: await measure(referenceUrl, true),
    embed: await measure(`${base}/embed/${id}?autoplay=1&muted=1`, true),
    console: await measure(`${base}/`, false),
  };
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
  reference.close();
}

// Shared by the player scripts: the player libraries they load into the
// page, and headless Chromium started the way the tests need it.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Paths of the player bundles, by player name. */
export const playerScripts = {
  hls: require.resolve("hls.js/dist/hls.min.js"),
  dash: require.resolve("dashjs"),
  shaka: require.resolve("shaka-player/dist/shaka-player.compiled.js"),
};

/** Headless Chromium (`$CHROMIUM`, else Debian's) that autoplays without a gesture. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

// The embed page: the player alone, for an <iframe>. `?autoplay=1`,
// `?muted=1` and `?start=SECONDS` are honoured.

import { mountPlayer } from "./player.js";
import { h } from "./ui.js";
import { Unavailable, waitingMessage, whenPlayable } from "./video_source.js";

const main = document.getElementById("embed");
const container = document.getElementById("player");
const query = new URLSearchParams(location.search);
const start = Number.parseFloat(query.get("start") ?? "0");
const notice = h("p", { class: "embed-message", role: "status" });

try {
  const { video, token } = await whenPlayable(main.dataset.videoId, (waiting) => {
    notice.textContent = waitingMessage(waiting);
    container.replaceChildren(notice);
  });
  mountPlayer(container, video, {
    token,
    autoplay: query.get("autoplay") === "1",
    muted: query.get("muted") === "1",
    start: Number.isFinite(start) && start > 0 ? start : 0,
  });
} catch (error) {
  notice.textContent = error instanceof Unavailable ? error.message : `The video could not be loaded: ${error.message}`;
  notice.classList.add("error");
  container.replaceChildren(notice);
}

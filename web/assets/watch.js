// The watch page: loads the video named by `#watch[data-video-id]`, plays
// it with the shared player, says why when it cannot, and notes when it is
// still encoding (it plays the part encoded so far).

import { mountPlayer } from "./player.js";
import { Unavailable, waitingMessage, whenPlayable } from "./video_source.js";
import { hasSession } from "./session.js";
import { clock, h } from "./ui.js";

const main = document.getElementById("watch");
const status = document.getElementById("status");
const title = document.getElementById("title");
const container = document.getElementById("player");

try {
  const { video, token } = await whenPlayable(main.dataset.videoId, (waiting) => {
    title.textContent = waiting.title;
    status.textContent = waitingMessage(waiting);
  });
  title.textContent = video.title;
  document.title = `${video.title} · Goflix`;
  status.textContent =
    video.state === "processing"
      ? "Still encoding: the part encoded so far plays now."
      : video.duration_s
        ? `Duration ${clock(video.duration_s)}`
        : "";
  const player = mountPlayer(container, video, { token, autoplay: true });
  player.element.focus({ preventScroll: true });
} catch (error) {
  container.remove();
  status.textContent = error instanceof Unavailable ? error.message : `The video could not be loaded: ${error.message}`;
  status.classList.add("error");
  if (!hasSession()) status.after(h("p", {}, h("a", { href: "/" }, "Sign in")));
}

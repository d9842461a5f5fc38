// What the watch and embed pages play: the API's view of the video, read
// with this tab's session when it has one (an owner or admin sees private
// videos) and anonymously otherwise, plus a playback token for a private
// video. Videos not yet playable are polled until they are.

import { apiJson, hasSession } from "./session.js";

/** Seconds between polls of a video that cannot play yet. */
const POLL_MS = 3000;

/** Why a video cannot be shown. */
export class Unavailable extends Error {}

/** `{ video, token }` for `id`; throws `Unavailable` with a sentence for people. */
export async function loadVideo(id) {
  let video = null;
  if (hasSession()) {
    video = await apiJson(`/api/v1/videos/${id}`).catch((error) => {
      if (error.status === 404) return null;
      if (error.status === 401) return null;
      throw error;
    });
  }
  if (!video) {
    const response = await fetch(`/api/v1/videos/${id}`);
    if (response.status === 404) {
      throw new Unavailable(
        hasSession()
          ? "This video does not exist, or you may not watch it."
          : "This video does not exist, or it is private: sign in as its owner to watch it.",
      );
    }
    if (!response.ok) throw new Unavailable(`The video could not be loaded (${response.status}).`);
    video = await response.json();
  }
  let token = null;
  if (video.visibility === "private") {
    ({ token } = await apiJson(`/api/v1/videos/${id}/playback-token`, { method: "POST" }));
  }
  return { video, token };
}

/**
 * Resolves to `{ video, token }` once the video can play, calling
 * `waiting(video)` each time it is seen not playable yet; throws
 * `Unavailable` when it failed or is unknown.
 */
export async function whenPlayable(id, waiting) {
  for (;;) {
    const loaded = await loadVideo(id);
    const { video } = loaded;
    if (video.playable && video.playback) return loaded;
    if (video.state === "failed") {
      throw new Unavailable(`This video could not be processed: ${video.error?.message ?? "it failed"}.`);
    }
    waiting(video);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A sentence for a video that cannot play yet. */
export function waitingMessage(video) {
  const percent = Math.round((video.progress ?? 0) * 100);
  switch (video.state) {
    case "importing":
      return `This video is being imported (${percent} %).`;
    case "queued":
      return video.queue_position ? `This video waits to be processed (place ${video.queue_position} in the queue).` : "This video waits to be processed.";
    case "processing":
      return `This video is being processed (${percent} %); it plays as soon as its first part is ready.`;
    default:
      return "This video is being processed.";
  }
}

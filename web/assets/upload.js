// Uploads from the console: files dropped on the drop zone or picked with
// the file input go up with tus-js-client (`window.tus`) to
// `/api/v1/uploads/tus`, each with its own progress bar, speed, pause and
// cancel. A dropped connection is retried from the offset the server
// stored; after a reload, picking the same file again resumes it (the
// upload URL is remembered in localStorage under the file's fingerprint —
// the URL only, never a token).

import { accessToken } from "./session.js";
import { bytes, h } from "./ui.js";

/** Bytes per PATCH: what a dropped connection can cost at most. */
const CHUNK_BYTES = 8 * 1024 * 1024;
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];

/**
 * The upload panel: a drop zone, a file input and a visibility choice;
 * `onUploaded(id)` is called when a file is stored (its video id).
 */
export function uploadPanel(onUploaded) {
  const input = h("input", { id: "upload-files", type: "file", multiple: true, accept: "video/*,.mkv,.mov,.mp4,.webm" });
  const visibility = h(
    "select",
    { id: "upload-visibility" },
    ["public", "unlisted", "private"].map((value) => h("option", { value }, value)),
  );
  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const zone = h(
    "div",
    { class: "drop-zone", id: "drop-zone" },
    h("p", {}, "Drop video files here, or"),
    h("label", { for: "upload-files", class: "button" }, "Choose files"),
    input,
  );
  const start = (files) => {
    for (const file of files) list.prepend(uploadItem(file, visibility.value, onUploaded));
  };
  input.addEventListener("change", () => {
    start(input.files);
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    start(event.dataTransfer?.files ?? []);
  });
  return h(
    "section",
    { class: "card upload-panel", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload"),
    h("label", { for: "upload-visibility" }, "Visibility of new uploads"),
    visibility,
    zone,
    list,
  );
}

/** One file's upload, started at once; its list item. */
function uploadItem(file, visibility, onUploaded) {
  const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = h("span", { class: "upload-status", role: "status" }, "Starting…");
  const pause = h("button", { type: "button" }, "Pause");
  const cancel = h("button", { type: "button", class: "danger" }, "Cancel");
  const item = h("li", { class: "upload" }, h("strong", { class: "upload-name" }, file.name), progress, status, h("div", { class: "actions" }, pause, cancel));
  let last = { at: performance.now(), sent: 0 };
  let paused = false;

  const upload = new window.tus.Upload(file, {
    endpoint: "/api/v1/uploads/tus",
    chunkSize: CHUNK_BYTES,
    retryDelays: RETRY_DELAYS_MS,
    metadata: { filename: file.name, title: file.name.replace(/\.[^.]+$/, "") || file.name, visibility },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    async onBeforeRequest(request) {
      request.setHeader("Authorization", `Bearer ${await accessToken()}`);
    },
    onProgress(sent, total) {
      const now = performance.now();
      const rate = ((sent - last.sent) / Math.max(1, now - last.at)) * 1000;
      if (now - last.at > 500) last = { at: now, sent };
      progress.value = total ? (sent / total) * 100 : 0;
      status.textContent = `${bytes(sent)} of ${bytes(total)}${rate > 0 ? ` · ${bytes(rate)}/s` : ""}`;
    },
    onSuccess() {
      progress.value = 100;
      status.textContent = "Uploaded; transcoding is queued.";
      pause.remove();
      cancel.remove();
      onUploaded(upload.url.split("/").pop());
    },
    onError(error) {
      status.textContent = `Upload failed: ${error.originalResponse?.getBody?.() || error.message}`;
      status.classList.add("error");
      pause.textContent = "Retry";
      paused = true;
    },
  });
  pause.addEventListener("click", () => {
    paused = !paused;
    if (paused) {
      upload.abort();
      status.textContent = "Paused.";
    } else upload.start();
    pause.textContent = paused ? "Resume" : "Pause";
  });
  cancel.addEventListener("click", async () => {
    await upload.abort(true).catch(() => {});
    status.textContent = "Cancelled.";
    pause.remove();
    cancel.remove();
  });
  upload.findPreviousUploads().then((previous) => {
    if (previous.length > 0) {
      upload.resumeFromPreviousUpload(previous[0]);
      item.dataset.resumed = "true";
      status.textContent = "Resuming an earlier upload of this file…";
    }
    upload.start();
  });
  return item;
}

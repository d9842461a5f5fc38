// The videos view of the console: the upload panel, then the caller's
// videos (admins: all) newest first, searchable by title and paged, each
// card kept live by the one event stream of the page (events.js): progress
// moves in place, state changes re-read the video. Per video: watch, edit
// title and visibility, cancel, retranscode (admins), delete after a
// confirmation, copy the HLS and DASH URLs and the embed code, renditions,
// captions (captions.js) and the failure message.

import { captionsPanel } from "./captions.js";
import { followEvents } from "./events.js";
import { apiJson } from "./session.js";
import { bytes, clock, h } from "./ui.js";
import { uploadPanel } from "./upload.js";

const PAGE_SIZE = 12;
/** States whose job may still be cancelled. */
const CANCELLABLE = new Set(["importing", "uploaded", "queued", "processing"]);

/** Renders the view into `main`; returns its teardown (closes the event stream). */
export function renderVideos(main, me) {
  const stream = new AbortController();
  const view = { me, q: "", offset: 0, offsets: [], next: null, cards: new Map() };
  const search = h("input", { id: "video-search", type: "search", placeholder: "Title contains…", autocomplete: "off" });
  const list = h("ul", { class: "videos", "aria-label": "Videos", "aria-live": "polite" });
  const previous = h("button", { type: "button", disabled: true }, "Previous page");
  const next = h("button", { type: "button", disabled: true }, "Next page");
  const live = h("p", { class: "muted live-state", role: "status" }, "Connecting to live updates…");
  const notice = h("p", { class: "error", role: "alert" });
  view.dialog = confirmDialog();
  main.replaceChildren(
    h("h1", {}, "Videos"),
    uploadPanel(() => load()),
    h(
      "section",
      { "aria-labelledby": "list-title" },
      h("h2", { id: "list-title" }, "Your videos"),
      h("div", { class: "toolbar" }, h("label", { for: "video-search" }, "Search by title"), search),
      live,
      notice,
      list,
      h("nav", { class: "pager", "aria-label": "Pages of videos" }, previous, next),
    ),
    view.dialog.element,
  );

  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(view.offset) });
    if (view.q) query.set("q", view.q);
    try {
      const page = await apiJson(`/api/v1/videos?${query}`);
      notice.textContent = "";
      view.next = page.next_offset;
      view.cards.clear();
      list.replaceChildren(...page.items.map((video) => card(view, video, load)));
      if (page.items.length === 0) list.append(h("li", { class: "empty muted" }, view.q ? "No video has that in its title." : "No videos yet: upload one above."));
      previous.disabled = view.offsets.length === 0;
      next.disabled = view.next === null;
    } catch (error) {
      notice.textContent = `The videos could not be loaded: ${error.message}`;
    }
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      view.q = search.value.trim();
      view.offset = 0;
      view.offsets = [];
      load();
    }, 250);
  });
  next.addEventListener("click", () => {
    view.offsets.push(view.offset);
    view.offset = view.next;
    load();
  });
  previous.addEventListener("click", () => {
    view.offset = view.offsets.pop() ?? 0;
    load();
  });

  followEvents(
    (type, event) => {
      const entry = view.cards.get(event.video_id);
      if (!entry) {
        // A video this page does not show yet: a new upload appears on the first page.
        if (type === "video.queued" && view.offset === 0 && !view.q) load();
        return;
      }
      if (type === "video.progress") entry.progress(event.progress);
      else entry.refresh();
    },
    { signal: stream.signal, onState: (state) => (live.textContent = state === "open" ? "Live updates on." : "Live updates interrupted; reconnecting…") },
  );
  load();
  return () => stream.abort();
}

/** The card of `video`; registers its live hooks in `view.cards`. */
function card(view, video, reload) {
  const item = h("li", { class: "video-card", "data-id": video.id });
  const entry = {
    video,
    progress(value) {
      entry.video = { ...entry.video, progress: value, state: entry.video.state === "queued" ? "processing" : entry.video.state };
      fill();
    },
    async refresh() {
      try {
        entry.video = await apiJson(`/api/v1/videos/${video.id}`);
        fill();
      } catch (error) {
        if (error.status === 404) item.remove();
      }
    },
  };
  view.cards.set(video.id, entry);
  const fill = () => item.replaceChildren(...cardContent(view, entry, reload, item));
  fill();
  return item;
}

function cardContent(view, entry, reload, item) {
  const video = entry.video;
  const admin = view.me.role === "admin";
  const percent = Math.round((video.progress ?? 0) * 100);
  const poster = video.playback?.poster
    ? posterImage(video)
    : h("div", { class: "poster placeholder", "aria-hidden": "true" }, video.state);
  const facts = [
    h("span", { class: `state state-${video.state}` }, video.state),
    video.duration_s ? h("span", {}, clock(video.duration_s)) : null,
    video.visibility ? h("span", {}, video.visibility) : null,
    video.eta_s !== null && video.eta_s !== undefined ? h("span", {}, `about ${clock(video.eta_s)} left`) : null,
    video.queue_position ? h("span", {}, `place ${video.queue_position} in the queue`) : null,
  ];
  const busy = CANCELLABLE.has(video.state);
  return [
    poster,
    h(
      "div",
      { class: "card-body" },
      h("h3", { class: "video-title" }, video.title),
      h("p", { class: "facts" }, facts),
      busy ? h("progress", { class: "transcode", max: "100", value: String(percent), "aria-label": `Progress of ${video.title}` }, `${percent} %`) : null,
      busy ? h("span", { class: "percent" }, `${percent} %`) : null,
      video.error ? h("p", { class: "error" }, video.error.message, video.error.detail ? h("code", { class: "detail" }, video.error.detail) : null) : null,
      h(
        "div",
        { class: "actions" },
        video.playable ? h("a", { class: "button", href: `/watch/${video.id}` }, "Watch") : null,
        busy ? h("button", { type: "button", onclick: () => act(item, `/api/v1/videos/${video.id}/cancel`, "POST", entry) }, "Cancel") : null,
        admin && !busy ? h("button", { type: "button", onclick: () => act(item, `/api/v1/videos/${video.id}/retranscode`, "POST", entry) }, "Retranscode") : null,
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              if (await view.dialog.ask(`Delete “${video.title}”? Its files are removed for good.`)) {
                await act(item, `/api/v1/videos/${video.id}`, "DELETE", entry);
                reload();
              }
            },
          },
          "Delete",
        ),
      ),
      manage(video, entry, item),
    ),
  ];
}

/** The "Details" disclosure: edit form, URLs, renditions, captions. */
function manage(video, entry, item) {
  const id = video.id;
  const title = h("input", { id: `title-${id}`, value: video.title, maxlength: "200", required: true });
  const visibility = h(
    "select",
    { id: `visibility-${id}` },
    ["public", "unlisted", "private"].map((value) => h("option", { value, selected: value === video.visibility }, value)),
  );
  const form = h(
    "form",
    { class: "edit" },
    h("label", { for: `title-${id}` }, "Title"),
    title,
    h("label", { for: `visibility-${id}` }, "Visibility"),
    visibility,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await act(item, `/api/v1/videos/${id}`, "PATCH", entry, { title: title.value, visibility: visibility.value });
  });
  const origin = location.origin;
  const links = video.playback
    ? [
        copyField(`hls-${id}`, "HLS URL", origin + video.playback.hls),
        copyField(`dash-${id}`, "DASH URL", origin + video.playback.dash),
        copyField(
          `embed-${id}`,
          "Embed code",
          `<iframe src="${origin}/embed/${id}" width="640" height="360" title="${escapeAttribute(video.title)}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`,
        ),
      ]
    : [];
  const renditions = (video.renditions ?? []).length
    ? h(
        "table",
        { class: "renditions" },
        h("caption", {}, "Renditions"),
        h("thead", {}, h("tr", {}, ["Name", "Size", "Bit rate", "Codecs"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          video.renditions.map((r) =>
            h("tr", {}, h("td", {}, r.name), h("td", {}, r.width ? `${r.width}×${r.height}` : "–"), h("td", {}, `${Math.round(r.bandwidth / 1000)} kbit/s`), h("td", {}, r.codecs)),
          ),
        ),
      )
    : null;
  const captions = captionsPanel(video);
  const details = h("details", { class: "manage" }, h("summary", {}, "Details"), form, links, renditions, captions.element, h("p", { class: "muted" }, `Id ${id}`));
  details.addEventListener("toggle", () => details.open && captions.load(), { once: true });
  return details;
}

/** A labelled read-only field with a Copy button. */
function copyField(id, label, value) {
  const input = h("input", { id, readonly: true, value });
  const status = h("span", { class: "muted", role: "status" });
  const copy = h("button", {
    type: "button",
    "aria-label": `Copy ${label}`,
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
        status.textContent = "Copied.";
      } catch {
        status.textContent = "Selected: press Ctrl+C to copy.";
      }
    },
  }, "Copy");
  return h("div", { class: "copy-field" }, h("label", { for: id }, label), h("div", { class: "copy-row" }, input, copy), status);
}

/** Runs one change on a video and re-reads it; errors show on the card. */
async function act(item, path, method, entry, json) {
  const message = item.querySelector(".action-error") ?? h("p", { class: "error action-error", role: "alert" });
  item.querySelector(".card-body")?.append(message);
  message.textContent = "";
  try {
    await apiJson(path, { method, json });
    if (method === "DELETE") item.remove();
    else await entry.refresh();
  } catch (error) {
    message.textContent = error.message;
  }
}

/** The poster; a private video's is loaded with a playback token. */
function posterImage(video) {
  const image = h("img", { class: "poster", alt: "", width: "320", height: "180" });
  if (video.visibility !== "private") image.src = video.playback.poster;
  else {
    apiJson(`/api/v1/videos/${video.id}/playback-token`, { method: "POST" })
      .then(({ token }) => (image.src = `${video.playback.poster}?token=${encodeURIComponent(token)}`))
      .catch(() => {});
  }
  return image;
}

function escapeAttribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** A `<dialog>` asking yes or no; `ask(question)` resolves to the answer. */
function confirmDialog() {
  const question = h("p", { id: "confirm-question" });
  const yes = h("button", { type: "button", class: "danger", value: "yes" }, "Delete");
  const no = h("button", { type: "button", value: "no" }, "Keep");
  const element = h("dialog", { class: "confirm", "aria-labelledby": "confirm-question" }, question, h("div", { class: "actions" }, no, yes));
  return {
    element,
    ask(text) {
      question.textContent = text;
      element.showModal();
      no.focus();
      return new Promise((resolve) => {
        const done = (answer) => {
          element.close();
          yes.onclick = no.onclick = element.oncancel = null;
          resolve(answer);
        };
        yes.onclick = () => done(true);
        no.onclick = () => done(false);
        element.oncancel = () => done(false);
      });
    },
  };
}

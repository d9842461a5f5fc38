// The captions section of a video's Details in the console: its caption
// tracks by language (uploaded, or extracted from the master), a form to add
// one (language tag, label, kind, a WebVTT or SRT file; one in a language
// the video already has replaces it) and a Remove button per track. The
// API's refusals (a malformed file names its line) show under the form.
// The list is read when the section is first shown.

import { apiJson } from "./session.js";
import { bytes, h } from "./ui.js";

/** The captions section of `video`; `load()` (re)reads its list. */
export function captionsPanel(video) {
  const id = video.id;
  const field = (name) => `caption-${name}-${id}`;
  const list = h("ul", { class: "captions", "aria-label": `Captions of ${video.title}` });
  const notice = h("p", { class: "error", role: "alert" });
  const language = h("input", { id: field("language"), required: true, maxlength: "35", autocomplete: "off", "aria-describedby": field("language-hint") });
  const label = h("input", { id: field("label"), required: true, maxlength: "100", autocomplete: "off" });
  const kind = h(
    "select",
    { id: field("kind") },
    h("option", { value: "subtitles" }, "Subtitles"),
    h("option", { value: "captions" }, "Captions (dialogue and sounds)"),
  );
  const file = h("input", { id: field("file"), type: "file", accept: ".vtt,.srt,text/vtt", required: true });
  const form = h(
    "form",
    { class: "edit caption-form" },
    h("label", { for: field("language") }, "Language"),
    language,
    h("span", { id: field("language-hint"), class: "muted" }, "A BCP 47 tag: de, fr, pt-BR…"),
    h("label", { for: field("label") }, "Label"),
    label,
    h("label", { for: field("kind") }, "Kind"),
    kind,
    h("label", { for: field("file") }, "WebVTT or SRT file"),
    file,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add caption")),
  );

  async function load() {
    try {
      const { items } = await apiJson(`/api/v1/videos/${id}/captions`);
      list.replaceChildren(...items.map(entry));
      if (items.length === 0) list.append(h("li", { class: "muted" }, "No captions yet."));
    } catch (error) {
      notice.textContent = `The captions could not be loaded: ${error.message}`;
    }
  }

  function entry(caption) {
    const origin = caption.source === "embedded" ? "from the master" : "uploaded";
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove the ${caption.label} caption` }, "Remove");
    remove.addEventListener("click", async () => {
      notice.textContent = "";
      try {
        await apiJson(`/api/v1/videos/${id}/captions/${encodeURIComponent(caption.language)}`, { method: "DELETE" });
        await load();
      } catch (error) {
        notice.textContent = error.message;
      }
    });
    return h("li", {}, `${caption.label} — ${caption.language}, ${caption.kind}, ${origin}, ${bytes(caption.bytes)} `, remove);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    notice.textContent = "";
    const body = new FormData();
    body.append("language", language.value.trim());
    body.append("label", label.value.trim());
    body.append("kind", kind.value);
    body.append("file", file.files[0]);
    try {
      await apiJson(`/api/v1/videos/${id}/captions`, { method: "POST", body });
      form.reset();
      await load();
    } catch (error) {
      notice.textContent = error.message;
    }
  });

  const element = h("section", { class: "captions-panel", "aria-labelledby": field("title") }, h("h4", { id: field("title") }, "Captions"), list, form, notice);
  return { element, load };
}

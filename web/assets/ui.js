// Small DOM helpers shared by the pages: building elements without
// innerHTML (so text from users is never parsed as markup) and formatting.

/**
 * `h("button", { class: "primary", onclick }, "Save")`: an element with
 * attributes (functions become listeners, `false`/`null` are skipped) and
 * children (strings become text nodes).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** `12:05` or `1:02:09` for a number of seconds. */
export function clock(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const [hours, minutes, secs] = parts.map((n) => String(n).padStart(2, "0"));
  return parts[0] > 0 ? `${parts[0]}:${minutes}:${secs}` : `${parts[1]}:${secs}`;
}

/** `1.4 MB` for a number of bytes. */
export function bytes(count) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

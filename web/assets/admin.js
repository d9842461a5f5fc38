// The admin views of the console over the existing API: users (list,
// create, change role, disable), service clients (register — the secret is
// shown once —, list, delete) and webhooks (add — with its signing secret
// shown once —, list, delete, delivery attempts).

import { apiJson } from "./session.js";
import { h } from "./ui.js";

const ROLES = ["viewer", "uploader", "admin"];
const SCOPES = ["videos:read", "videos:write"];
const WEBHOOK_EVENTS = ["video.ready", "video.failed"];

/** A form whose submit runs `action(fields)`; errors and success show below it. */
function form(id, title, fields, submitLabel, action) {
  const message = h("p", { role: "status", class: "form-message" });
  const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
  const element = h("form", { class: "card", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), fields, h("div", { class: "actions" }, submit), message);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.className = "form-message";
    message.textContent = "";
    try {
      const done = await action();
      message.textContent = done ?? "Done.";
      message.classList.add("ok");
      element.reset();
    } catch (error) {
      message.textContent = error.message;
      message.classList.add("error");
    } finally {
      submit.disabled = false;
    }
  });
  return element;
}

function field(id, label, control) {
  control.id = id;
  return [h("label", { for: id }, label), control];
}

function checkboxes(name, values, checked) {
  return h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, name),
    values.map((value) => {
      const id = `${name}-${value}`.replace(/[^a-z0-9-]/gi, "-");
      return h("div", { class: "choice" }, h("input", { type: "checkbox", id, value, checked: checked.includes(value) }), h("label", { for: id }, value));
    }),
  );
}

/** A box showing a secret once, with a copy button. */
function secretBox(label, secret) {
  const input = h("input", { id: "new-secret", readonly: true, value: secret });
  return h(
    "div",
    { class: "secret card", role: "alert" },
    h("p", {}, h("strong", {}, `${label}: copy it now — it is shown only once.`)),
    h("label", { for: "new-secret" }, label),
    h("div", { class: "copy-row" }, input, h("button", { type: "button", onclick: () => navigator.clipboard.writeText(secret).catch(() => input.select()) }, "Copy")),
  );
}

function table(caption, columns, rows) {
  return h(
    "table",
    { class: "admin-table" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows),
  );
}

/** Users: list, create, change role, disable or enable. */
export async function renderUsers(main) {
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const password = h("input", { type: "password", required: true, minlength: "8", autocomplete: "new-password" });
  const role = h("select", {}, ROLES.map((r) => h("option", { value: r, selected: r === "uploader" }, r)));
  const listing = h("div", { class: "table-wrap" });
  const refresh = async () => {
    const users = [];
    let cursor = null;
    do {
      const page = await apiJson(`/api/v1/users?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
      users.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && users.length < 1000);
    listing.replaceChildren(table("Users", ["E-mail", "Role", "Status", "Actions"], users.map(userRow)));
  };
  const userRow = (user) => {
    const select = h("select", { "aria-label": `Role of ${user.email}` }, ROLES.map((r) => h("option", { value: r, selected: r === user.role }, r)));
    const status = h("span", { role: "status" });
    const patch = async (change) => {
      try {
        await apiJson(`/api/v1/users/${user.id}`, { method: "PATCH", json: change });
        await refresh();
      } catch (error) {
        status.textContent = error.message;
        status.className = "error";
      }
    };
    select.addEventListener("change", () => patch({ role: select.value }));
    return h(
      "tr",
      {},
      h("td", {}, user.email),
      h("td", {}, select),
      h("td", {}, user.disabled ? "disabled" : "active", status),
      h("td", {}, h("button", { type: "button", onclick: () => patch({ disabled: !user.disabled }) }, user.disabled ? `Enable ${user.email}` : `Disable ${user.email}`)),
    );
  };
  main.replaceChildren(
    h("h1", {}, "Users"),
    form("new-user", "Create a user", [field("new-user-email", "E-mail", email), field("new-user-password", "Password", password), field("new-user-role", "Role", role)], "Create user", async () => {
      await apiJson("/api/v1/users", { method: "POST", json: { email: email.value, password: password.value, role: role.value } });
      await refresh();
      return `Created ${email.value}.`;
    }),
    listing,
  );
  await refresh();
}

/** Service clients: register (secret shown once), list, delete. */
export async function renderClients(main) {
  const name = h("input", { required: true, maxlength: "100" });
  const scopes = checkboxes("Scopes", SCOPES, ["videos:read"]);
  const shown = h("div");
  const listing = h("div", { class: "table-wrap" });
  const refresh = async () => {
    const { items } = await apiJson("/api/v1/clients");
    listing.replaceChildren(
      table(
        "Service clients",
        ["Name", "Client id", "Scopes", "Actions"],
        items.map((client) =>
          h(
            "tr",
            {},
            h("td", {}, client.name),
            h("td", {}, h("code", {}, client.client_id)),
            h("td", {}, client.scope),
            h("td", {}, h("button", { type: "button", class: "danger", onclick: async () => { await apiJson(`/api/v1/clients/${client.client_id}`, { method: "DELETE" }); await refresh(); } }, `Delete ${client.name}`)),
          ),
        ),
      ),
    );
  };
  main.replaceChildren(
    h("h1", {}, "Service clients"),
    form("new-client", "Register a client", [field("new-client-name", "Name", name), scopes], "Register client", async () => {
      const scope = [...scopes.querySelectorAll("input:checked")].map((box) => box.value).join(" ");
      const created = await apiJson("/api/v1/clients", { method: "POST", json: { name: name.value, scope } });
      shown.replaceChildren(secretBox(`Secret of ${created.client_id}`, created.client_secret));
      await refresh();
      return `Registered ${created.name}.`;
    }),
    shown,
    listing,
  );
  await refresh();
}

/** Webhooks: add (secret shown once), list, delete, deliveries. */
export async function renderWebhooks(main) {
  const url = h("input", { type: "url", required: true, placeholder: "https://example.com/hooks/goflix" });
  const events = checkboxes("Events", WEBHOOK_EVENTS, WEBHOOK_EVENTS);
  const shown = h("div");
  const listing = h("div");
  const refresh = async () => {
    const { items } = await apiJson("/api/v1/webhooks");
    listing.replaceChildren(...(items.length ? items.map(webhookCard) : [h("p", { class: "muted" }, "No webhooks yet.")]));
  };
  const webhookCard = (hook) => {
    const deliveries = h("div", { class: "deliveries" });
    const show = async () => {
      const { items } = await apiJson(`/api/v1/webhooks/${hook.id}/deliveries`);
      deliveries.replaceChildren(
        items.length
          ? table(
              `Deliveries to ${hook.url}`,
              ["Event", "State", "Attempts", "Created"],
              items.map((d) =>
                h(
                  "tr",
                  {},
                  h("td", {}, d.event),
                  h("td", {}, d.state),
                  h("td", {}, d.attempts.map((a) => `#${a.attempt}: ${a.status_code ?? a.error ?? "no answer"}`).join(", ") || "none yet"),
                  h("td", {}, new Date(d.created_at).toLocaleString()),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No deliveries yet."),
      );
    };
    return h(
      "article",
      { class: "card webhook" },
      h("h3", {}, hook.url),
      h("p", {}, `Events: ${(hook.events ?? []).join(", ")}`),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: show }, `Deliveries of ${hook.url}`),
        h("button", { type: "button", class: "danger", onclick: async () => { await apiJson(`/api/v1/webhooks/${hook.id}`, { method: "DELETE" }); await refresh(); } }, `Delete ${hook.url}`),
      ),
      deliveries,
    );
  };
  main.replaceChildren(
    h("h1", {}, "Webhooks"),
    form("new-webhook", "Add a webhook", [field("new-webhook-url", "URL", url), events], "Add webhook", async () => {
      const chosen = [...events.querySelectorAll("input:checked")].map((box) => box.value);
      const created = await apiJson("/api/v1/webhooks", { method: "POST", json: { url: url.value, events: chosen } });
      shown.replaceChildren(secretBox("Signing secret", created.secret));
      await refresh();
      return `Added ${created.url}.`;
    }),
    shown,
    listing,
  );
  await refresh();
}

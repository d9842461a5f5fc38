// The console at `/`: the sign-in form, then the signed-in shell — a
// navigation bar and the view named by the location's hash (`#/videos`,
// `#/users`, …). Tokens never appear in the URL.

import { renderClients, renderUsers, renderWebhooks } from "./admin.js";
import { apiJson, hasSession, onSignedOut, signIn, signOut } from "./session.js";
import { h } from "./ui.js";
import { renderVideos } from "./videos.js";

const app = document.getElementById("app");
/** The signed-in account, read once per sign-in. */
let me = null;

/** The views, by hash route, and the roles that see them (the first one is the default). */
const VIEWS = [
  { route: "#/videos", label: "Videos", roles: ["uploader", "admin"], render: renderVideos },
  { route: "#/users", label: "Users", roles: ["admin"], render: renderUsers },
  { route: "#/clients", label: "Service clients", roles: ["admin"], render: renderClients },
  { route: "#/webhooks", label: "Webhooks", roles: ["admin"], render: renderWebhooks },
  { route: "#/account", label: "Account", roles: ["viewer", "uploader", "admin"], render: renderAccount },
];

/** Ends the current view (its event stream, say) before another replaces it. */
let teardown = null;

onSignedOut(() => {
  me = null;
  renderSignIn("You were signed out.");
});
window.addEventListener("hashchange", () => {
  if (hasSession()) renderShell();
});

if (hasSession()) renderShell();
else renderSignIn();

function renderSignIn(notice = "") {
  teardown?.();
  teardown = null;
  const email = h("input", { id: "email", type: "email", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", name: "password", autocomplete: "current-password", required: true });
  const message = h("p", { class: "error", role: "alert" }, notice);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in to Goflix"),
    h("label", { for: "email" }, "E-mail"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    h("div", { class: "actions" }, submit),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = "";
    try {
      await signIn(email.value, password.value);
      renderShell();
    } catch (error) {
      message.textContent = error.message;
      submit.disabled = false;
      password.focus();
    }
  });
  app.replaceChildren(h("main", { class: "centered" }, form));
  email.focus();
}


async function renderShell() {
  try {
    me ??= await apiJson("/api/v1/users/me");
  } catch (error) {
    if (error.status === 401) return renderSignIn("Your session has ended; sign in again.");
    throw error;
  }
  const views = VIEWS.filter((view) => view.roles.includes(me.role));
  const current = views.find((view) => view.route === location.hash) ?? views[0];
  const nav = h(
    "nav",
    { "aria-label": "Console" },
    h(
      "ul",
      {},
      views.map((view) => h("li", {}, h("a", { href: view.route, "aria-current": view === current ? "page" : false }, view.label))),
    ),
  );
  const out = h(
    "button",
    {
      type: "button",
      onclick: () =>
        signOut().then(() => {
          me = null;
          renderSignIn();
        }),
    },
    "Sign out",
  );
  const main = h("main", { id: "view", tabindex: "-1" });
  app.replaceChildren(
    h("header", { class: "bar" }, h("a", { class: "brand", href: "#/videos" }, "Goflix"), nav, h("span", { class: "muted who" }, me.email), out),
    main,
  );
  teardown?.();
  teardown = null;
  try {
    const ended = await current.render(main, me);
    teardown = typeof ended === "function" ? ended : null;
  } catch (error) {
    main.append(h("p", { class: "error", role: "alert" }, `This page could not be loaded: ${error.message}`));
  }
  main.focus({ preventScroll: true });
}

function renderAccount(main, account) {
  main.replaceChildren(
    h("h1", {}, "Account"),
    h("dl", {}, h("dt", {}, "E-mail"), h("dd", {}, account.email), h("dt", {}, "Role"), h("dd", {}, account.role)),
  );
}

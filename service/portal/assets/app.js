// The portal: signs the browser on (a session from Negotiate when the browser can,
// else the login form), then shows the sections the person's roles allow. Every
// change goes through the JSON API, which checks the directory live for each grant.
import { ApiError, call, changed, setCsrfToken } from "./api.js";
import { clear, el, say } from "./util.js";
import { showEntries, showMine } from "./requester.js";
import { countInbox, showInbox } from "./approver.js";
import { showCheckoutRequests } from "./auditor.js";
import { showAdministration } from "./admin.js";
import { showAuditTrail } from "./audit.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let me = null;

const sections = [
  { hash: "#/request", title: "Request access", show: showEntries, allowed: (roles) => roles.includes("requester") },
  { hash: "#/mine", title: "My requests", show: showMine, allowed: () => true, watch: "/api/v1/requests" },
  {
    hash: "#/inbox",
    title: "To decide",
    show: showInbox,
    allowed: () => true,
    count: countInbox,
    watch: "/api/v1/requests?approvable=true",
  },
  {
    hash: "#/checkout-requests",
    title: "Check-out requests",
    show: showCheckoutRequests,
    allowed: (roles) => roles.includes("auditor"),
  },
  { hash: "#/audit", title: "Audit trail", show: showAuditTrail, allowed: (roles) => roles.includes("auditor") },
  {
    hash: "#/admin",
    title: "Administration",
    show: showAdministration,
    allowed: (roles) => roles.includes("admin"),
    watch: "/api/v1/checkout-requests?state=active&limit=200",
  },
];

async function start() {
  const session = await existingSession();
  if (!session) {
    showLogin();
    return;
  }
  setCsrfToken(session.csrf_token);
  me = await call("GET", "/api/v1/me");
  document.getElementById("who-name").textContent = me.display_name + " (" + me.name + ")";
  document.getElementById("who").hidden = false;
  buildNav();
  window.addEventListener("hashchange", route);
  route();
  setInterval(refreshCounts, 15000);
  setInterval(watchCurrent, 5000);
}

// live: what the open section watches — a GET path (a function: it may follow the
// section's filters) and what to do when its answer changes on the server.
let live = null;

// watchCurrent: polls the open section's path with If-None-Match (nothing moves while
// nothing changed) and lets the section redraw when it did (decided, started, ended
// elsewhere).
async function watchCurrent() {
  const watching = live;
  if (!watching) return;
  try {
    if ((await changed(watching.path())) && live === watching) watching.onChange();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showLogin("Your session has ended: sign on again.");
  }
}

// watch: makes `path` the open section's live path; what it answered when the section
// last fetched it with show (its ETag) is what later polls compare with.
function watch(path, onChange) {
  live = { path, onChange };
}

// typing: whether the person has started filling in a field of the open section
// (a whole redraw would lose it).
function typing() {
  return [...main.querySelectorAll("input, textarea")].some((f) => f.value !== "") ||
    (document.activeElement && main.contains(document.activeElement) &&
      document.activeElement.matches("input, textarea, select"));
}

// existingSession: the cookie's session, else a silent Negotiate sign-on (where it is
// on and the browser has a ticket for us), else none.
async function existingSession() {
  const session = await call("GET", "/api/v1/session");
  if (session.signed_on) return session;
  if (!session.negotiate) return null;
  // Twice: Chromium on Linux loads its Kerberos library only after it has seen a first
  // Negotiate challenge (it restarts its network service for it), so on a browser's
  // first visit only the second attempt can carry a ticket.
  for (const pause of [0, 1500]) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    try {
      return await call("POST", "/api/v1/session/negotiate");
    } catch (e) {
      if (!(e instanceof ApiError) || e.status >= 500) throw e;
    }
  }
  return null;
}

function showLogin(message) {
  document.getElementById("who").hidden = true;
  nav.hidden = true;
  const error = el("p", { class: "error", id: "login-error", role: "alert", text: message || "" });
  const form = el(
    "form",
    { class: "stack card login", id: "login-form" },
    el("h1", { text: "Sign on" }),
    el("p", { class: "muted", text: "With your domain account. Domain computers sign on without this form." }),
    el("label", {}, "User name", el("input", { name: "username", id: "username", autocomplete: "username", required: true })),
    el("label", {}, "Password",
      el("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true })),
    error,
    el("button", { type: "submit", id: "sign-on" }, "Sign on"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await call("POST", "/api/v1/session", { username: form.username.value, password: form.password.value });
      location.hash = "#/";
      await start();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  clear(main).append(form);
  form.username.focus();
}

function buildNav() {
  clear(nav);
  for (const section of sections) {
    if (!section.allowed(me.roles)) continue;
    const link = el("a", { href: section.hash, id: "nav-" + section.hash.slice(2) }, section.title);
    if (section.count) link.append(el("span", { class: "badge", id: "count-" + section.hash.slice(2), hidden: true }));
    nav.append(link);
  }
  nav.hidden = false;
  refreshCounts();
}

async function refreshCounts() {
  for (const section of sections) {
    const badge = document.getElementById("count-" + section.hash.slice(2));
    if (!badge || !section.count) continue;
    try {
      const n = await section.count();
      badge.textContent = String(n);
      badge.hidden = n === 0;
      badge.setAttribute("aria-label", n + " waiting");
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return showLogin("Your session has ended: sign on again.");
    }
  }
}

async function route(focus = true) {
  const allowed = sections.filter((s) => s.allowed(me.roles));
  const section = allowed.find((s) => s.hash === location.hash) || allowed[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === section.hash) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clear(main).append(el("p", { class: "loading", text: "Loading…" }));
  live = null;
  try {
    // A section with a fixed path is redrawn whole when it changes; others call watch.
    if (section.watch) {
      await changed(section.watch); // what is shown now: later polls compare with it
      watch(() => section.watch, () => typing() || route(false));
    }
    await section.show(main, { me, refresh: () => route(), counts: refreshCounts, watch });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin("Your session has ended: sign on again.");
    clear(main).append(el("p", { class: "error", role: "alert", text: e.message }));
  }
  if (focus) main.focus();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await call("DELETE", "/api/v1/session");
  } catch (_) {
    // signed out either way
  }
  setCsrfToken(null);
  say("Signed out.");
  showLogin();
});

start().catch((e) => {
  clear(main).append(el("p", { class: "error", role: "alert", text: "The portal could not start: " + e.message }));
});

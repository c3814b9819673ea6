// The administrator's section: active check-outs with the time left and revoke (with
// a reason); take-backs that failed or wait for a retry, with their last error; and
// the secrets of password entries (write-only: a secret is never shown here).
import { call } from "./api.js";
import { clear, el, say, timeLeft, when } from "./util.js";

export async function showAdministration(main, context) {
  const [active, failed, retrying, { entries }] = await Promise.all([
    call("GET", "/api/v1/checkout-requests?state=active&limit=200"),
    call("GET", "/api/v1/checkout-requests?takeback=failed&limit=200"),
    call("GET", "/api/v1/checkout-requests?takeback=pending&limit=200"),
    call("GET", "/api/v1/entries?all=true"),
  ]);
  clear(main).append(el("h1", { text: "Administration" }));

  main.append(el("h2", { text: "Active check-outs" }));
  if (active.rows.length === 0) main.append(el("p", { text: "No check-out is active." }));
  const cards = el("div", { class: "cards", id: "active-checkouts" });
  for (const row of active.rows) cards.append(activeCard(row, context));
  main.append(cards);

  main.append(el("h2", { class: "spaced", text: "Take-backs not done" }));
  const undone = [...failed.rows, ...retrying.rows];
  if (undone.length === 0) main.append(el("p", { id: "takebacks-none", text: "Every take-back is done." }));
  const list = el("div", { class: "cards", id: "takebacks" });
  for (const row of undone)
    list.append(el("section", { class: "card", id: "takeback-" + row.checkout_id },
      el("h2", {}, row.entry + " of " + row.requester.display_name),
      el("dl", { class: "facts" },
        el("dt", { text: "Take-back" }), el("dd", { text: row.takeback + " after " + row.takeback_attempts +
          (row.takeback_attempts === 1 ? " attempt" : " attempts") }),
        el("dt", { text: "Last error" }), el("dd", { text: row.takeback_error || "–" }),
        el("dt", { text: "Ended" }), el("dd", {}, when(row.actual_end)))));
  main.append(list);

  main.append(el("h2", { class: "spaced", text: "Secrets" }));
  const secrets = el("div", { class: "cards", id: "secrets" });
  for (const entry of entries.filter((e) => e.release.includes("password"))) secrets.append(secretCard(entry));
  main.append(secrets);
}

function activeCard(row, context) {
  const id = (name) => "active-" + row.checkout_id + "-" + name;
  const reason = el("textarea", { name: "reason", id: id("reason"), maxlength: 2000, required: true });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "stack" },
    el("label", {}, "Reason for revoking", reason), error,
    el("button", { type: "submit", class: "danger", id: id("revoke") }, "Revoke"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await call("POST", "/api/v1/checkouts/" + row.checkout_id + "/revoke", { reason: reason.value });
      say("Check-out " + row.checkout_id + " revoked: access is being taken back.");
      context.refresh();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  return el("section", { class: "card", id: id("card") },
    el("h2", {}, row.entry + ": " + row.requester.display_name + " (" + row.requester.name + ")"),
    el("dl", { class: "facts" },
      el("dt", { text: "Request" }), el("dd", { text: String(row.request_id) }),
      el("dt", { text: "Until" }), el("dd", {}, when(row.window_end)),
      el("dt", { text: "Time left" }), el("dd", { text: timeLeft(row.window_end) }),
      el("dt", { text: "Reason" }), el("dd", { text: row.reason || "–" })),
    form);
}

function secretCard(entry) {
  const id = (name) => "secret-" + entry.name + "-" + name;
  const input = el("input", { type: "password", name: "secret", id: id("value"), autocomplete: "new-password",
    maxlength: 1024, required: true });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "stack" },
    el("label", {}, "New secret", el("span", { class: "hint", text: "(write-only: it is never shown again)" }), input),
    error, el("button", { type: "submit", id: id("set") }, "Set the secret"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const stored = await call("POST", "/api/v1/entries/" + encodeURIComponent(entry.name) + "/secret",
        { secret: input.value });
      input.value = "";
      say("The secret of " + entry.display_name + " is set (version " + stored.version + ").");
    } catch (e) {
      error.textContent = e.message;
    }
  });
  return el("section", { class: "card" }, el("h2", { text: entry.display_name }), form);
}

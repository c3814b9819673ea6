// The requester's sections: what I may request (with each entry's policy and its
// approvers) and my requests, with cancel, extend, check in and the credential.
import { call } from "./api.js";
import { clear, duration, durationChoices, el, say, stateBadge, timeLeft, when } from "./util.js";

export async function showEntries(main, context) {
  const { entries } = await call("GET", "/api/v1/entries");
  clear(main).append(el("h1", { text: "Request access" }));
  if (entries.length === 0) main.append(el("p", { text: "There is nothing you may request." }));
  const cards = el("div", { class: "cards" });
  for (const entry of entries) cards.append(entryCard(entry, context));
  main.append(cards);
}

function entryCard(entry, context) {
  const policy = entry.policy;
  const approvers = el("dd");
  for (const stage of entry.stages || [])
    approvers.append(
      el("div", {}, "Stage " + stage.stage + " (" + stage.approvals + "): " +
        (stage.approvers.map((p) => p.display_name).join(", ") || "nobody can approve now")),
    );
  const error = el("p", { class: "error", role: "alert" });
  const id = (name) => entry.name + "-" + name;
  const durationSelect = el("select", { name: "duration", id: id("duration") });
  for (const seconds of durationChoices(policy.max_duration_seconds)) {
    durationSelect.append(el("option", { value: seconds, selected: seconds === policy.default_duration_seconds },
      duration(seconds)));
  }
  const sendTo = el("select", { name: "approver", id: id("approver") },
    el("option", { value: "" }, "every approver of stage 1"));
  for (const person of ((entry.stages || [])[0] || { approvers: [] }).approvers)
    sendTo.append(el("option", { value: person.name }, "only " + person.display_name));
  const form = el(
    "form",
    { class: "stack", id: id("form") },
    el("label", {}, "Reason", policy.reason_required ? "" : el("span", { class: "hint", text: "(optional)" }),
      el("textarea", { name: "reason", id: id("reason"), maxlength: 2000, required: policy.reason_required })),
    el("label", {}, "Ticket",
      el("span", { class: "hint", text: policy.ticket_pattern ? "must match " + policy.ticket_pattern : "(optional)" }),
      el("input", { name: "ticket", id: id("ticket"), maxlength: 200, required: !!policy.ticket_pattern })),
    el("label", {}, "For", durationSelect),
    el("label", {}, "Start", el("span", { class: "hint", text: "(empty: when approved)" }),
      el("input", { name: "start", id: id("start"), type: "datetime-local" })),
    el("label", {}, "Ask", sendTo),
    error,
    el("button", { type: "submit", id: id("submit") }, "Request " + entry.display_name),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = { entry: entry.name, reason: form.reason.value, duration: Number(form.duration.value) };
    if (form.ticket.value) body.ticket = form.ticket.value;
    if (form.approver.value) body.approver = form.approver.value;
    if (form.start.value) body.start = new Date(form.start.value).toISOString().replace(/\.\d+Z$/, "Z");
    try {
      const created = await call("POST", "/api/v1/requests", body);
      say("Request " + created.id + " sent.");
      location.hash = "#/mine";
    } catch (e) {
      error.textContent = e.message; // the policy's own words (reason_required, ticket_mismatch, ...)
    }
  });
  return el(
    "section",
    { class: "card", "aria-labelledby": id("title") },
    el("h2", { id: id("title"), text: entry.display_name }),
    entry.description ? el("p", { class: "muted", text: entry.description }) : null,
    el("dl", { class: "facts" },
      el("dt", { text: "Now" }), el("dd", { id: id("available"),
        text: entry.available_now ? "free" : "in use (a request may start after the current window)" }),
      el("dt", { text: "At most" }), el("dd", { text: duration(policy.max_duration_seconds) }),
      el("dt", { text: "Releases" }), el("dd", { text: entry.release.join(", ") }),
      el("dt", { text: "Approvers" }), approvers),
    form,
  );
}

export async function showMine(main, context) {
  const [{ requests }, { entries }] = await Promise.all([call("GET", "/api/v1/requests"), call("GET", "/api/v1/entries")]);
  const policies = new Map(entries.map((e) => [e.name, e.policy]));
  clear(main).append(el("h1", { text: "My requests" }));
  if (requests.length === 0) main.append(el("p", { text: "You have no requests yet." }));
  const cards = el("div", { class: "cards" });
  for (const request of requests) cards.append(requestCard(request, context, policies.get(request.entry)));
  main.append(cards);
}

function requestCard(request, context, policy) {
  const checkout = request.checkout;
  const id = (name) => "request-" + request.id + "-" + name;
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "State" }), el("dd", { id: id("state") }, stateBadge(request.state)),
    el("dt", { text: "Asked" }), el("dd", { text: duration(request.duration_seconds) }),
    el("dt", { text: "Reason" }), el("dd", { text: request.reason || "–" }),
    el("dt", { text: "Ticket" }), el("dd", { text: request.ticket || "–" }));
  if (checkout) {
    facts.append(el("dt", { text: "Window" }),
      el("dd", { id: id("window") }, when(checkout.starts_at), " to ", when(checkout.ends_at)));
    if (checkout.state === "active") facts.append(el("dt", { text: "Time left" }), el("dd", { text: timeLeft(checkout.ends_at) }));
    if (checkout.ended_at) facts.append(el("dt", { text: "Ended" }), el("dd", {}, when(checkout.ended_at), " (" + checkout.end_reason + ")"));
  }
  const decisions = el("ul");
  for (const d of request.decisions) {
    decisions.append(el("li", {}, d.approver.display_name + " " + (d.decision === "approve" ? "approved" : "denied") +
      (d.granted_duration_seconds ? " for " + duration(d.granted_duration_seconds) : "") +
      (d.comment ? ": " + d.comment : "")));
  }
  const actions = el("div", { class: "row" });
  const output = el("div", { id: id("output") });
  let extend = null;
  const act = (label, name, run, cls) =>
    el("button", { type: "button", id: id(name), class: cls, onclick: async () => {
      try {
        await run();
      } catch (e) {
        output.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
      }
    } }, label);
  if (request.state === "pending" || (request.state === "approved" && checkout && checkout.state === "scheduled"))
    actions.append(act("Cancel", "cancel", async () => {
      await call("POST", "/api/v1/requests/" + request.id + "/cancel", {});
      say("Request " + request.id + " cancelled.");
      context.refresh();
    }, "secondary"));
  if (checkout && checkout.state === "active") {
    actions.append(act("Reveal password", "reveal", () => reveal(checkout, output, id)));
    actions.append(act("Check in", "checkin", async () => {
      await call("POST", "/api/v1/checkouts/" + checkout.id + "/checkin", {});
      say("Checked in: access is being taken back.");
      context.refresh();
    }, "secondary"));
    if (policy && policy.max_extension_seconds > 0) extend = extendForm(checkout, policy, output, id, context);
  }
  return el("section", { class: "card", id: id("card") },
    el("h2", {}, (request.extends_checkout ? "Extension " : "Request ") + request.id + ": " + request.entry_display_name),
    facts, request.decisions.length ? decisions : null, actions, extend, output);
}

// extendForm: ask for more time (a new request the approvers decide, as the first).
function extendForm(checkout, policy, output, id, context) {
  const by = el("select", { name: "by", id: id("extend-by") });
  for (const seconds of durationChoices(policy.max_extension_seconds)) by.append(el("option", { value: seconds }, duration(seconds)));
  const reason = el("input", { name: "reason", id: id("extend-reason"), maxlength: 2000, required: policy.reason_required });
  const form = el("form", { class: "row extend" },
    el("label", {}, "Extend by", by), el("label", {}, "Reason", reason),
    el("button", { type: "submit", class: "secondary", id: id("extend") }, "Ask for more time"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const asked = await call("POST", "/api/v1/checkouts/" + checkout.id + "/extend",
        { by: Number(by.value), reason: reason.value });
      say("Extension " + asked.id + " sent to the approvers.");
      context.refresh();
    } catch (e) {
      output.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
    }
  });
  return form;
}

// reveal: the password (every read is audited), with a copy button, hidden again after 30 s.
async function reveal(checkout, output, id) {
  const credential = await call("GET", "/api/v1/checkouts/" + checkout.id + "/credential");
  const secret = el("code", { class: "secret", id: id("password"), text: credential.password });
  const copy = el("button", { type: "button", class: "secondary", id: id("copy"), onclick: async () => {
    await navigator.clipboard.writeText(credential.password);
    say("Copied.");
  } }, "Copy");
  output.replaceChildren(el("p", {}, "Account " + credential.account + ": ", secret, " ", copy),
    el("p", { class: "muted", text: "Hidden again in 30 seconds. This read is in the audit trail." }));
  setTimeout(() => output.replaceChildren(), 30000);
}

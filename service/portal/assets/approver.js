// The approver's section: the requests I may decide now, each with the requester,
// entry, reason, ticket, window and earlier decisions; approve (optionally for a
// shorter window) or deny, with a comment.
import { call } from "./api.js";
import { clear, duration, durationChoices, el, say, when } from "./util.js";

export async function countInbox() {
  const { requests } = await call("GET", "/api/v1/requests?approvable=true");
  return requests.length;
}

export async function showInbox(main, context) {
  const { requests } = await call("GET", "/api/v1/requests?approvable=true");
  clear(main).append(el("h1", {}, "To decide ", el("span", { class: "badge", id: "inbox-count", text: requests.length })));
  if (requests.length === 0) main.append(el("p", { text: "Nothing waits for your decision." }));
  const cards = el("div", { class: "cards" });
  for (const request of requests) cards.append(decisionCard(request, context));
  main.append(cards);
  context.counts();
}

function decisionCard(request, context) {
  const id = (name) => "decide-" + request.id + "-" + name;
  const grant = el("select", { name: "duration", id: id("duration") });
  grant.append(el("option", { value: "" }, duration(request.duration_seconds) + " (as asked)"));
  for (const seconds of durationChoices(request.duration_seconds))
    if (seconds < request.duration_seconds) grant.append(el("option", { value: seconds }, duration(seconds)));
  const comment = el("textarea", { name: "comment", id: id("comment"), maxlength: 2000 });
  const error = el("p", { class: "error", role: "alert" });
  const decide = async (decision) => {
    error.textContent = "";
    const body = {};
    if (comment.value) body.comment = comment.value;
    if (decision === "approve" && grant.value) body.duration = Number(grant.value);
    try {
      const after = await call("POST", "/api/v1/requests/" + request.id + "/" + decision, body);
      say("Request " + request.id + " " + (decision === "approve" ? "approved" : "denied") + " (now " + after.state + ").");
      context.refresh();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const earlier = el("ul");
  for (const d of request.decisions)
    earlier.append(el("li", {}, "Stage " + d.stage + ": " + d.approver.display_name + " " +
      (d.decision === "approve" ? "approved" : "denied") + (d.comment ? " (" + d.comment + ")" : "")));
  const requester = request.requester;
  return el("section", { class: "card", id: id("card") },
    el("h2", {}, request.entry_display_name + " for " + requester.display_name),
    el("dl", { class: "facts" },
      el("dt", { text: "Requester" }), el("dd", { text: requester.display_name + " (" + requester.name + ")" }),
      el("dt", { text: "Eligible through" }), el("dd", { id: id("path"),
        text: (request.requester_eligible_through || []).join(" → ") || "–" }),
      el("dt", { text: "Reason" }), el("dd", { text: request.reason || "–" }),
      el("dt", { text: "Ticket" }), el("dd", { text: request.ticket || "–" }),
      el("dt", { text: "Window" }), el("dd", {}, request.start ? when(request.start) : "from approval",
        ", " + duration(request.duration_seconds)),
      el("dt", { text: "Stage" }), el("dd", { text: request.stage + " of " + request.stages }),
      el("dt", { text: "Decide by" }), el("dd", {}, when(request.deadline))),
    request.decisions.length ? el("div", {}, el("p", { class: "muted", text: "Earlier decisions" }), earlier) : null,
    el("form", { class: "stack", onsubmit: (e) => e.preventDefault() },
      el("label", {}, "Comment", el("span", { class: "hint", text: "(optional)" }), comment),
      el("label", {}, "Approve for", grant),
      error,
      el("div", { class: "row" },
        el("button", { type: "button", id: id("approve"), onclick: () => decide("approve") }, "Approve"),
        el("button", { type: "button", id: id("deny"), class: "danger", onclick: () => decide("deny") }, "Deny"))));
}

// The auditor's audit trail: the latest events in pages (new events show by themselves
// while only the first page is open), and the hash chain verified on request (every
// event checked now, with the head hash to compare with an export).
import { call, show } from "./api.js";
import { clear, el, when } from "./util.js";

export async function showAuditTrail(main, context) {
  clear(main).append(el("h1", { text: "Audit trail" }));
  const result = el("div", { id: "verification", role: "status" });
  const verify = el("button", { type: "button", id: "verify-chain", onclick: async () => {
    verify.disabled = true;
    result.replaceChildren(el("p", { class: "loading", text: "Checking every event…" }));
    try {
      const v = await call("GET", "/api/v1/audit/verification");
      result.replaceChildren(
        el("p", { class: v.intact ? "" : "error", id: "chain-state",
          text: v.intact ? "The chain is intact: " + v.events + " events checked." : "The chain is BROKEN: " + v.message }),
        el("p", {}, "Head hash: ", el("code", { class: "secret", id: "head-hash", text: v.head_hash })));
    } catch (e) {
      result.replaceChildren(el("p", { class: "error", text: e.message }));
    }
    verify.disabled = false;
  } }, "Verify the chain");
  const body = el("tbody");
  const head = el("tr");
  for (const title of ["#", "At", "Actor", "Action", "Subject", "Details"]) head.append(el("th", { scope: "col", text: title }));
  const more = el("button", { type: "button", class: "secondary", id: "audit-next", hidden: true }, "Older events");
  main.append(el("div", { class: "row" }, verify), result,
    el("div", { class: "table-wrap" }, el("table", { id: "audit-table" }, el("thead", {}, head), body)), more);
  let next = null;
  let pages = 0;
  const load = async (fresh) => {
    const page = fresh ? await show("/api/v1/audit") : await call("GET", "/api/v1/audit?before=" + next);
    if (fresh) {
      clear(body);
      pages = 0;
    }
    pages += 1;
    for (const e of page.events)
      body.append(el("tr", { id: "event-" + e.seq }, el("td", { text: e.seq }), el("td", {}, when(e.at)),
        el("td", { text: e.actor }), el("td", { text: e.action }), el("td", { text: e.subject }),
        el("td", { class: "wrap", text: e.details })));
    next = page.next;
    more.hidden = !next;
  };
  more.addEventListener("click", () => load(false));
  await load(true);
  context.watch(() => "/api/v1/audit", () => pages === 1 && load(true));
}

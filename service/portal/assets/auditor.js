// The auditor's section: the check-out requests view — filters applied by the server
// (time range, entry, requester, approver, state), newest or oldest first, keyset
// pages, and the CSV of exactly the filtered rows (the checkout-requests report with
// the same filters). The first page follows changes on the server by itself; deeper
// pages say that something changed instead of jumping back.
import { call, show } from "./api.js";
import { clear, duration, el, stateBadge, when } from "./util.js";

const STATES = ["pending", "approved", "active", "ended", "denied", "cancelled", "lapsed"];

export async function showCheckoutRequests(main, context) {
  const { entries } = await call("GET", "/api/v1/entries?all=true");
  clear(main).append(el("h1", { text: "Check-out requests" }));
  const entrySelect = el("select", { name: "entry", id: "filter-entry" }, el("option", { value: "" }, "any"));
  for (const entry of entries) entrySelect.append(el("option", { value: entry.name }, entry.display_name));
  const stateSelect = el("select", { name: "state", id: "filter-state" }, el("option", { value: "" }, "any"));
  for (const state of STATES) stateSelect.append(el("option", { value: state }, state));
  const sortSelect = el("select", { name: "sort", id: "filter-sort" },
    el("option", { value: "-requested_at" }, "newest first"), el("option", { value: "requested_at" }, "oldest first"),
    el("option", { value: "requester" }, "by requester"), el("option", { value: "entry" }, "by entry"),
    el("option", { value: "state" }, "by state"));
  const form = el("form", { class: "row filters", id: "filters" },
    el("label", {}, "From", el("input", { type: "date", name: "from", id: "filter-from" })),
    el("label", {}, "To", el("input", { type: "date", name: "to", id: "filter-to" })),
    el("label", {}, "Entry", entrySelect),
    el("label", {}, "Requester", el("input", { name: "requester", id: "filter-requester", placeholder: "account or SID" })),
    el("label", {}, "Approver", el("input", { name: "approver", id: "filter-approver", placeholder: "account or SID" })),
    el("label", {}, "State", stateSelect),
    el("label", {}, "Order", sortSelect),
    el("button", { type: "submit", id: "filter-apply" }, "Show"));
  const download = el("a", { id: "download-csv", download: "checkout-requests.csv" }, "Download CSV of these rows");
  const table = el("div", { class: "table-wrap" });
  const more = el("button", { type: "button", class: "secondary", id: "next-page", hidden: true }, "Next page");
  const error = el("p", { class: "error", role: "alert" });
  const newer = el("p", { class: "notice", id: "requests-changed", role: "status", hidden: true },
    "Requests changed since these pages were loaded. ",
    el("button", { type: "button", class: "secondary", onclick: () => load(false) }, "Show the latest"));
  main.append(form, el("p", {}, download), error, newer, table, more);

  let next = null;
  let pages = 0;
  const filters = () => {
    const params = new URLSearchParams();
    for (const name of ["from", "to", "entry", "requester", "approver", "state"]) {
      let value = form.elements[name].value.trim();
      // "To" is the last day shown; the API's `to` is exclusive.
      if (name === "to" && value) value = new Date(Date.parse(value + "T00:00:00Z") + 86400000).toISOString().slice(0, 10);
      if (value) params.set(name, value);
    }
    return params;
  };
  const pagePath = (after) => {
    const params = filters();
    params.set("sort", sortSelect.value);
    if (after) params.set("after", after);
    return "/api/v1/checkout-requests?" + params;
  };
  let firstPage = pagePath(null); // as last loaded: what the live update watches
  const load = async (append) => {
    error.textContent = "";
    const params = filters();
    download.href = "/api/v1/reports/checkout-requests.csv" + (params.toString() ? "?" + params : "");
    const path = pagePath(append ? next : null);
    try {
      const page = await show(path);
      if (!append) {
        clear(table).append(tableOf());
        newer.hidden = true;
        pages = 0;
        firstPage = path;
      }
      pages += 1;
      const body = table.querySelector("tbody");
      for (const row of page.rows) body.append(rowOf(row));
      next = page.next;
      more.hidden = !next;
      table.querySelector("caption").textContent = body.rows.length + " request" + (body.rows.length === 1 ? "" : "s") +
        " shown" + (next ? " (more on the next page)" : "");
    } catch (e) {
      error.textContent = e.message;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  await load(false);
  context.watch(() => firstPage, () => (pages === 1 ? load(false) : (newer.hidden = false)));
}

function tableOf() {
  const head = el("tr");
  for (const title of ["Request", "Entry", "Requester", "Reason", "Ticket", "Requested", "Asked", "State", "Decisions",
    "Window", "Actual end", "End", "Credential reads", "Take-back"])
    head.append(el("th", { scope: "col", text: title }));
  return el("table", { id: "requests-table" }, el("caption", {}), el("thead", {}, head), el("tbody"));
}

function rowOf(row) {
  const decisions = el("td");
  for (const d of row.decisions)
    decisions.append(el("div", {}, d.approver + " " + (d.decision === "approve" ? "approved" : "denied") +
      (d.granted_duration_seconds ? " for " + duration(d.granted_duration_seconds) : "") + " (stage " + d.stage + ")"));
  return el("tr", { id: "row-" + row.request_id },
    el("td", { text: row.request_id }),
    el("td", { text: row.entry }),
    el("td", { text: row.requester.display_name + " (" + row.requester.name + ")" }),
    el("td", { class: "wrap", text: row.reason }),
    el("td", { text: row.ticket || "–" }),
    el("td", {}, when(row.requested_at)),
    el("td", { text: duration(row.duration_seconds) }),
    el("td", {}, stateBadge(row.state)),
    decisions,
    el("td", {}, row.window_start ? when(row.window_start) : "–", row.window_end ? [" to ", when(row.window_end)] : ""),
    el("td", { class: "actual-end" }, row.actual_end ? when(row.actual_end) : "–"),
    el("td", { class: "end-reason", text: row.end_reason || "–" }),
    el("td", { text: row.credential_retrievals ?? "–" }),
    el("td", { text: row.takeback || "–" }));
}

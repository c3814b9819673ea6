// DOM and time helpers. Text always goes in as text (textContent), never as markup.

// el: an element with attributes (on* are listeners, text is its text) and children.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// duration: seconds as keyholder writes them ("1h30m").
export function duration(seconds) {
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (s >= size) {
      parts.push(Math.floor(s / size) + unit);
      s %= size;
    }
  }
  return parts.join("") || "0s";
}

// when: a <time> in the browser's zone, with UTC on hover.
export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return el("time", {
    datetime: iso,
    title: date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"),
    text: date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }),
  });
}

// timeLeft: "1h20m left" until `iso`, or "ended".
export function timeLeft(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  return seconds > 0 ? duration(seconds) + " left" : "ended";
}

// choices: durations (in seconds) from a ladder, up to `max`.
export function durationChoices(max) {
  const ladder = [900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800];
  const out = ladder.filter((s) => s <= max);
  if (!out.includes(max)) out.push(max);
  return out;
}

export function stateBadge(state) {
  return el("span", { class: "state state-" + state, text: state });
}

let statusTimer = null;
export function say(message) {
  const status = document.getElementById("status");
  status.textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => (status.textContent = ""), 6000);
}

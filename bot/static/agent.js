// Agent console: the inbox (list, live chat over a WebSocket, customer panel, alerts, canned replies
// and typing indicators) and the analytics charts.
// Every page works without this file (forms post and pages reload); text goes in as text nodes, HTML
// only as fragments the server rendered with its escaping templates.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function socketTo(topic, onFrame) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const holder = { socket: null };
  function connect() {
    holder.socket = new WebSocket(`${scheme}//${location.host}/agent/ws/${encodeURIComponent(topic)}`);
    holder.socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    holder.socket.addEventListener("close", () => setTimeout(connect, 1000));
  }
  connect();
  return holder;
}

// Server-rendered fragments (escaped by the server's templates) replace a pane's content.
async function reload(node) {
  const resp = await fetch(node.dataset.src, { credentials: "same-origin" });
  if (resp.ok) node.innerHTML = await resp.text();
}

// ---- The list: refreshed on queue events and every few seconds; a new waiting shopper alerts ------
const ALERTS_KEY = "aisle.agent.alerts";
const REFRESH_MS = 5000;

function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  const audio = beep.context || (beep.context = new Context());
  if (audio.state === "suspended") audio.resume(); // after a reload, sound waits for the next click anywhere
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.15, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.4);
}

function inboxList(list) {
  const button = document.getElementById("alerts");
  const status = document.getElementById("alert-status");
  const waitingIds = () => new Set([...list.querySelectorAll("li[data-mode=waiting]")].map((li) => li.dataset.id));
  let known = waitingIds();
  let alertsOn = localStorage.getItem(ALERTS_KEY) === "on";

  function showButton() {
    button.hidden = false;
    button.textContent = alertsOn ? "Turn off alerts" : "Turn on alerts";
  }
  // Browsers allow sound and the permission prompt only after a click: both start here.
  button.addEventListener("click", async () => {
    alertsOn = !alertsOn;
    localStorage.setItem(ALERTS_KEY, alertsOn ? "on" : "off");
    if (alertsOn) {
      if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
      beep();
    }
    showButton();
  });
  showButton();

  function alert(li) {
    const text = `A shopper is waiting: ${li.dataset.reason}`;
    status.textContent = text;
    document.title = `(${waitingIds().size}) ${document.title.replace(/^\(\d+\) /, "")}`;
    if (!alertsOn) return;
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      const note = new Notification("Aisle: a shopper is waiting", { body: li.dataset.reason, tag: li.dataset.id });
      note.addEventListener("click", () => { window.focus(); location.href = `/agent/live/${encodeURIComponent(li.dataset.id)}`; });
    }
  }

  async function refresh() {
    await reload(list);
    const now = waitingIds();
    for (const li of list.querySelectorAll("li[data-mode=waiting]")) if (!known.has(li.dataset.id)) alert(li);
    if (!now.size) document.title = document.title.replace(/^\(\d+\) /, "");
    known = now;
  }
  socketTo("queue", (frame) => { if (frame.type === "queue") refresh(); });
  setInterval(refresh, REFRESH_MS);
}

// ---- Canned replies: "/" then the shortcut in the reply box, or the picker next to it ------------
function cannedReplies(input) {
  const data = document.getElementById("canned-data");
  const replies = data ? JSON.parse(data.textContent) : [];
  const menu = document.getElementById("canned-menu");
  const picker = document.getElementById("canned-pick");
  let shown = [];
  let active = 0;

  function insert(text) {
    const slash = input.value.match(/(^|\s)\/[\w-]*$/);
    input.value = slash ? input.value.slice(0, slash.index + slash[1].length) + text : (input.value ? input.value + " " : "") + text;
    close();
    input.focus();
    input.dispatchEvent(new Event("input"));
  }
  function close() {
    menu.hidden = true;
    shown = [];
    input.removeAttribute("aria-activedescendant");
  }
  function render() {
    menu.replaceChildren(...shown.map((r, i) => {
      const item = el("li", i === active ? "active" : "");
      item.id = `canned-${i}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(i === active));
      item.append(el("code", "", `/${r.shortcut}`), " ", el("span", "", r.text.slice(0, 80)));
      item.addEventListener("mousedown", (event) => { event.preventDefault(); insert(r.text); });
      return item;
    }));
    menu.hidden = !shown.length;
    if (shown.length) input.setAttribute("aria-activedescendant", `canned-${active}`);
    else input.removeAttribute("aria-activedescendant");
  }
  input.addEventListener("input", () => {
    const slash = input.value.match(/(?:^|\s)\/([\w-]*)$/);
    if (!slash) return close();
    const query = slash[1].toLowerCase();
    shown = replies.filter((r) => r.shortcut.startsWith(query)).concat(
      replies.filter((r) => !r.shortcut.startsWith(query) && r.shortcut.includes(query)));
    active = 0;
    render();
  });
  input.addEventListener("keydown", (event) => {
    if (menu.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      insert(shown[active].text);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  });
  input.addEventListener("blur", close);
  if (picker) {
    picker.hidden = false;
    picker.addEventListener("change", () => {
      if (picker.value !== "") insert(replies[Number(picker.value)].text);
      picker.value = "";
    });
  }
}

// ---- The conversation: live messages, typing both ways, the customer panel kept current -----------
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000; // a shopper who closed the tab never says "stopped"

function liveChat(log) {
  const conversation = log.dataset.conversation;
  const form = document.getElementById("live-form");
  const input = document.getElementById("live-text");
  const typingLine = document.getElementById("shopper-typing");
  const customer = document.getElementById("customer");
  const names = { shopper: "Shopper", bot: "Bot", system: "Notice" };
  let typingHide = null;

  function show(m) {
    const item = el("li", "tm " + m.author);
    const meta = el("div", "meta");
    meta.append(el("strong", "", m.author === "agent" ? (m.agent || "Agent") : names[m.author] || m.author));
    const time = el("time", "", (m.created_at || "").slice(11, 16));
    time.dateTime = m.created_at || "";
    meta.append(" ", time);
    item.append(meta, el("p", "text", m.text));
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }
  function shopperTyping(on) {
    clearTimeout(typingHide);
    typingLine.hidden = !on;
    if (on) typingHide = setTimeout(() => { typingLine.hidden = true; }, TYPING_SHOWN_MS);
  }

  const live = socketTo(conversation, (frame) => {
    if (frame.type === "message") {
      if (frame.message.author === "shopper") shopperTyping(false);
      show(frame.message);
      if (customer.dataset.src && frame.message.author === "bot") reload(customer); // a cart or order may have changed
    } else if (frame.type === "typing" && frame.author === "shopper") {
      shopperTyping(frame.on);
    } else if (frame.type === "error") {
      show({ author: "system", text: frame.message });
    } else if (frame.type === "mode" && frame.mode === "bot") {
      show({ author: "system", text: "The bot has the conversation again." });
    }
  });
  const open = () => live.socket && live.socket.readyState === WebSocket.OPEN;
  log.scrollTop = log.scrollHeight;
  if (!form) return;
  cannedReplies(input); // first: its Enter (pick a reply) comes before Enter (send)

  let typingSentAt = 0;
  let typingStop = null;
  function tellTyping(on) {
    if (open()) live.socket.send(JSON.stringify({ type: "typing", on }));
  }
  input.addEventListener("input", () => {
    if (!input.value) return;
    if (Date.now() - typingSentAt > TYPING_REPEAT_MS) {
      typingSentAt = Date.now();
      tellTyping(true);
    }
    clearTimeout(typingStop);
    typingStop = setTimeout(() => { typingSentAt = 0; tellTyping(false); }, TYPING_IDLE_MS);
  });
  form.addEventListener("submit", (event) => {
    if (!open()) return; // falls back to the form post
    event.preventDefault();
    const text = input.value.trim();
    clearTimeout(typingStop);
    typingSentAt = 0;
    tellTyping(false);
    if (text) live.socket.send(JSON.stringify({ type: "message", text }));
    input.value = "";
  });
  input.addEventListener("keydown", (event) => { // Enter sends, Shift+Enter starts a new line
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.focus();
}

function charts() {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const accent = "#0f766e";
  new window.Chart(document.getElementById("per-day"), {
    type: "line",
    data: { labels: data.per_day.labels, datasets: [{ label: "Conversations", data: data.per_day.values, borderColor: accent, backgroundColor: accent }] },
    options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  new window.Chart(document.getElementById("intents"), {
    type: "bar",
    data: { labels: data.top_intents.map((x) => x[0]), datasets: [{ label: "Messages", data: data.top_intents.map((x) => x[1]), backgroundColor: accent }] },
    options: { animation: false, indexAxis: "y", plugins: { legend: { display: false } } },
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const queue = document.getElementById("queue");
  if (queue) inboxList(queue);
  const log = document.getElementById("live-log");
  if (log) liveChat(log);
  if (document.getElementById("chart-data") && window.Chart) charts();
});

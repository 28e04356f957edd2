// Agent console: the live queue refreshes itself, the live chat uses a WebSocket, analytics charts.
// Every page works without this file (forms post and pages reload); text goes in as text nodes only.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function liveQueue(table) {
  const csrf = table.dataset.csrf;
  const body = table.querySelector("tbody");
  async function refresh() {
    const resp = await fetch("/agent/queue.json", { credentials: "same-origin" });
    if (!resp.ok) return;
    const { queue } = await resp.json();
    const rows = queue.map((q) => {
      const tr = el("tr");
      tr.append(el("td", "", `${q.wait_s} s`), el("td", "", q.reason || ""));
      const link = el("a", "", "history");
      link.href = `/agent/conversations/${encodeURIComponent(q.conversation_id)}`;
      const historyCell = el("td");
      historyCell.append(link);
      const form = el("form");
      form.method = "post";
      form.action = `/agent/queue/${encodeURIComponent(q.conversation_id)}/take`;
      const token = el("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = csrf;
      const button = el("button", "", "Take");
      button.type = "submit";
      form.append(token, button);
      const takeCell = el("td");
      takeCell.append(form);
      tr.append(historyCell, takeCell);
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr");
      const td = el("td", "", "Nobody is waiting.");
      td.colSpan = 4;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }
  setInterval(refresh, 3000);
}

function liveChat(log) {
  const conversation = log.dataset.conversation;
  const form = document.getElementById("live-form");
  const input = document.getElementById("live-text");
  const names = { shopper: "Shopper", bot: "Bot", system: "Notice" };
  let socket = null;

  function show(m) {
    const item = el("li", "tm " + m.author);
    const meta = el("div", "meta");
    meta.append(el("strong", "", m.author === "agent" ? (m.agent || "Agent") : names[m.author] || m.author));
    const time = el("time", "", (m.created_at || "").slice(11, 16));
    time.dateTime = m.created_at || "";
    meta.append(" ", time);
    item.append(meta, el("p", "text", m.text));
    log.append(item);
    item.scrollIntoView({ block: "end" });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/agent/ws/${encodeURIComponent(conversation)}`);
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "message") show(frame.message);
      else if (frame.type === "error") show({ author: "system", text: frame.message });
      else if (frame.type === "mode" && frame.mode === "bot") show({ author: "system", text: "The bot has the conversation again." });
    });
    socket.addEventListener("close", () => setTimeout(connect, 1000));
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) return; // falls back to the form post
      event.preventDefault();
      const text = input.value.trim();
      if (text) socket.send(JSON.stringify({ type: "message", text }));
      input.value = "";
    });
  }
  connect();
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
  if (queue) liveQueue(queue);
  const log = document.getElementById("live-log");
  if (log) liveChat(log);
  if (document.getElementById("chart-data") && window.Chart) charts();
});

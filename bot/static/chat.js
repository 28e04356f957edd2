// Minimal chat page: one conversation per browser (id kept in localStorage), text only.
// Every shopper- or bot-provided string goes through textContent, never innerHTML.
"use strict";

const STORAGE_KEY = "aisle.conversation";
const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("text");

function conversationId() {
  let id = localStorage.getItem(STORAGE_KEY);
  if (!id) {
    id = "web-" + crypto.randomUUID();
    localStorage.setItem(STORAGE_KEY, id);
  }
  return id;
}

function show(author, text, buttons) {
  const item = document.createElement("li");
  item.className = "msg " + author;
  const body = document.createElement("p");
  body.textContent = text;
  item.appendChild(body);
  for (const b of buttons || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quick-reply";
    button.textContent = b.title;
    button.addEventListener("click", () => send(b.payload, b.title));
    item.appendChild(button);
  }
  log.appendChild(item);
  item.scrollIntoView({ block: "end" });
}

async function send(message, shown) {
  show("shopper", shown || message);
  try {
    const resp = await fetch("/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: conversationId(), message }),
    });
    const data = await resp.json();
    if (!resp.ok) {
      show("system", data.error || "Something went wrong.");
      return;
    }
    for (const m of data.messages) {
      if (m.text || m.buttons) show("bot", m.text || "", m.buttons);
    }
  } catch (err) {
    show("system", "Connection problem: your message was not sent. Please try again.");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});

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

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(amount);
  } catch (err) {
    return amount.toFixed(2) + " " + (currency || "");
  }
}

// Product cards from the bot's custom payload; text goes through textContent like everything else.
function showCards(products) {
  const item = document.createElement("li");
  item.className = "msg bot cards";
  for (const p of products) {
    const card = document.createElement("article");
    card.className = "card";
    const title = document.createElement("h2");
    title.textContent = p.title;
    const meta = document.createElement("p");
    const rating = p.rating ? " · ★ " + p.rating.toFixed(1) : "";
    meta.textContent = money(p.price, p.currency) + rating + (p.in_stock === false ? " · out of stock" : "");
    card.append(title, meta);
    for (const b of p.buttons || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply";
      button.textContent = b.title;
      button.addEventListener("click", () => send(b.payload, b.title + ": " + p.title));
      card.appendChild(button);
    }
    item.appendChild(card);
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
    // Rasa sends the text and the cards as separate messages. With cards on screen only the text's
    // intro line is kept: the numbered list is the fallback for text-only channels.
    const hasCards = data.messages.some((m) => m.custom && m.custom.type === "product_cards");
    for (const m of data.messages) {
      const text = hasCards && m.text && m.text.includes("\n1. ") ? m.text.split("\n")[0] : m.text;
      if (text || m.buttons) show("bot", text || "", m.buttons);
      if (m.custom && m.custom.type === "product_cards") showCards(m.custom.products);
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

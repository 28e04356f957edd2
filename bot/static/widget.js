// Aisle chat widget. Embed on any page with one tag:
//   <script src="https://YOUR-AISLE-HOST/static/widget.js" defer></script>
// Plain JavaScript, no build step. It lives in a shadow root so the store's CSS cannot break it;
// the store recolours it with CSS variables (--aisle-accent, --aisle-bg, ... see widget.css).
// Every string from the server reaches the page as text nodes, never as HTML.
(() => {
  "use strict";
  if (window.AisleWidget) return;

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  const ORIGIN = new URL(script ? script.src : "/static/widget.js", location.href).origin;
  const WS_URL = ORIGIN.replace(/^http/, "ws") + "/ws";
  // {token, at, idleMs}: the server-issued token of this browser's conversation and when it was last
  // active. After idleMs without a message it is forgotten (a shared computer's next user starts fresh);
  // the server applies the same expiry, so a stale token never reopens the conversation anyway.
  const CONVERSATION_KEY = "aisle.conversation";
  const OUTBOX_KEY = "aisle.outbox";
  const RETRY_MAX_MS = 8000;
  const DEFAULT_IDLE_MS = 30 * 60 * 1000;
  const IDLE_CHECK_MS = 30 * 1000;

  let maxChars = 2000;
  let socket = null;
  let connected = false;
  let retryMs = 500;
  let unread = 0;
  let restarting = false; // the socket is closed on purpose, to start a new conversation
  let endedNotice = false;
  // Messages sent but not yet seen back from the server; resent after a reconnect or a reload.
  const outbox = new Map(JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]"));

  // ---- DOM ---------------------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chatIcon() {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 " +
      "1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z");
    svg.append(path);
    return svg;
  }

  const host = el("div");
  host.id = "aisle-widget";
  const root = host.attachShadow({ mode: "open" });
  const style = el("link");
  style.rel = "stylesheet";
  style.href = ORIGIN + "/static/widget.css";

  const launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat with the Aisle shopping assistant");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "aisle-panel");
  launcher.append(chatIcon());
  const badge = el("span", "badge");
  badge.hidden = true;
  launcher.append(badge);

  const panel = el("section", "panel");
  panel.id = "aisle-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Aisle shopping assistant");
  const header = el("header");
  const titles = el("div");
  titles.append(el("h2", "", "Aisle"));
  const status = el("p", "status", "Shopping assistant");
  status.setAttribute("aria-live", "polite");
  titles.append(status);
  const closeButton = el("button", "close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  const endButton = el("button", "end-chat", "End chat");
  endButton.type = "button";
  endButton.setAttribute("aria-label", "End chat and forget this conversation on this device");
  const controls = el("div", "controls");
  controls.append(endButton, closeButton);
  header.append(titles, controls);

  const banner = el("div", "banner");
  banner.setAttribute("role", "status");
  banner.hidden = true;
  const cancelHandoff = el("button", "cancel-handoff", "Back to the assistant");
  cancelHandoff.type = "button";
  cancelHandoff.hidden = true;

  const log = el("ol", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;
  const typing = el("div", "typing");
  typing.hidden = true;
  typing.setAttribute("aria-label", "Aisle is typing");
  typing.append(el("span"), el("span"), el("span"));

  const form = el("form", "composer");
  const label = el("label", "sr-only", "Message");
  label.htmlFor = "aisle-input";
  const input = el("input");
  input.id = "aisle-input";
  input.type = "text";
  input.autocomplete = "off";
  input.placeholder = "Ask about products, orders, policies…";
  const sendButton = el("button", "send", "Send");
  sendButton.type = "submit";
  form.append(label, input, sendButton);
  panel.append(header, banner, cancelHandoff, log, typing, form);
  root.append(style, launcher, panel);

  // ---- Safe Markdown: **bold**, *italic*, `code`, [links](https://...), lists, paragraphs ---------
  const INLINE = /\*\*([^*]+)\*\*|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|\*([^*\s][^*]*)\*/g;

  function inline(parent, text) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      parent.append(text.slice(last, m.index));
      if (m[1] !== undefined) parent.append(el("strong", "", m[1]));
      else if (m[2] !== undefined) parent.append(el("code", "", m[2]));
      else if (m[3] !== undefined) {
        const a = el("a", "", m[3]);
        a.href = m[4];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.append(a);
      } else parent.append(el("em", "", m[5]));
      last = m.index + m[0].length;
    }
    parent.append(text.slice(last));
  }

  function markdown(text) {
    const out = document.createDocumentFragment();
    for (const block of text.split(/\n{2,}/)) {
      const lines = block.split("\n").filter((l) => l.trim());
      if (!lines.length) continue;
      const bullets = lines.every((l) => /^\s*[-*]\s+/.test(l));
      const numbers = lines.every((l) => /^\s*\d+[.)]\s+/.test(l));
      if (bullets || numbers) {
        const list = el(bullets ? "ul" : "ol");
        for (const line of lines) {
          const item = el("li");
          inline(item, line.replace(/^\s*(?:[-*]|\d+[.)])\s+/, ""));
          list.append(item);
        }
        out.append(list);
      } else {
        const p = el("p");
        lines.forEach((line, i) => {
          if (i) p.append(el("br"));
          inline(p, line);
        });
        out.append(p);
      }
    }
    return out;
  }

  // ---- Rendering ---------------------------------------------------------------------------------
  function money(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(amount);
    } catch (err) {
      return Number(amount).toFixed(2) + " " + (currency || "");
    }
  }

  function clock(iso) {
    const time = el("time", "time");
    const when = iso ? new Date(iso) : new Date();
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return time;
  }

  function actionButton(className, title, onClick, ariaLabel) {
    const b = el("button", className, title);
    b.type = "button";
    if (ariaLabel) b.setAttribute("aria-label", ariaLabel);
    b.addEventListener("click", onClick);
    return b;
  }

  function carousel(cards) {
    const strip = el("div", "carousel");
    strip.setAttribute("role", "list");
    strip.setAttribute("aria-label", "Products");
    for (const p of cards) {
      const card = el("article", "card");
      card.setAttribute("role", "listitem");
      card.dataset.sku = p.sku;
      if (typeof p.image_url === "string" && /^https?:\/\//.test(p.image_url)) {
        const img = el("img");
        img.src = p.image_url;
        img.alt = "";
        img.loading = "lazy";
        card.append(img);
      } else {
        const placeholder = el("div", "placeholder", (p.title || "?").slice(0, 1));
        placeholder.setAttribute("aria-hidden", "true");
        card.append(placeholder);
      }
      card.append(el("h3", "", p.title));
      const meta = el("p", "meta");
      meta.append(el("span", "price", money(p.price, p.currency)));
      if (p.rating) meta.append(el("span", "rating", "★ " + Number(p.rating).toFixed(1)));
      if (p.in_stock === false) meta.append(el("span", "oos", "Out of stock"));
      card.append(meta);
      if (p.reason) card.append(el("p", "reason", p.reason));
      const actions = el("div", "card-actions");
      for (const b of p.buttons || []) {
        actions.append(actionButton("card-button", b.title, () => send(b.title + ": " + p.title, b.payload),
                                    b.title + ": " + p.title));
      }
      card.append(actions);
      strip.append(card);
    }
    return strip;
  }

  function quickReplies(buttons) {
    const group = el("div", "quick-replies");
    for (const b of buttons) {
      group.append(actionButton("quick-reply", b.title, () => {
        group.querySelectorAll("button").forEach((x) => { x.disabled = true; });
        send(b.title, b.payload);
      }));
    }
    return group;
  }

  function messageItem(m) {
    const item = el("li", "msg " + m.author);
    if (m.id) item.dataset.id = m.id;
    if (m.client_id) item.dataset.clientId = m.client_id;
    if (m.author === "system") {
      item.setAttribute("role", "note");
      item.append(el("p", "notice", m.text), clock(m.created_at));
      return item;
    }
    const bubble = el("div", "bubble");
    if (m.author === "agent") bubble.append(el("span", "who", (m.agent || "Agent") + " · our team"));
    if (m.author === "shopper") bubble.append(el("p", "", m.text));
    else bubble.append(markdown(m.cards && m.cards.length ? (m.intro || m.text.split("\n")[0]) : m.text));
    item.append(bubble);
    if (m.cards && m.cards.length) item.append(carousel(m.cards));
    if (m.buttons && m.buttons.length) item.append(quickReplies(m.buttons));
    item.append(clock(m.created_at));
    return item;
  }

  function show(m) {
    const existing = (m.id && log.querySelector(`li[data-id="${m.id}"]`)) ||
      (m.client_id && log.querySelector(`li[data-client-id="${CSS.escape(m.client_id)}"]`));
    const item = messageItem(m);
    if (existing) existing.replaceWith(item);
    else log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  function notice(text) {
    show({ author: "system", text, created_at: new Date().toISOString() });
  }

  function setUnread(count) {
    unread = count;
    badge.hidden = count === 0;
    badge.textContent = String(count);
    launcher.setAttribute("aria-label", count
      ? `Open chat with the Aisle shopping assistant (${count} unread)` : "Open chat with the Aisle shopping assistant");
  }

  function setMode(mode) {
    cancelHandoff.hidden = mode.mode !== "waiting";
    if (mode.mode === "waiting") {
      const parts = ["Waiting for a person"];
      if (mode.queue_position) parts.push(`#${mode.queue_position} in the queue`);
      if (mode.expected_wait_s) parts.push(`about ${Math.max(1, Math.round(mode.expected_wait_s / 60))} min`);
      status.textContent = parts.join(" · ");
    } else if (mode.mode === "agent") {
      status.textContent = `Chatting with ${mode.agent || "our team"}`;
    } else {
      status.textContent = "Shopping assistant";
    }
    panel.dataset.mode = mode.mode;
  }

  // ---- Connection --------------------------------------------------------------------------------
  function saveOutbox() {
    localStorage.setItem(OUTBOX_KEY, JSON.stringify([...outbox]));
  }

  function stored() {
    try {
      const entry = JSON.parse(localStorage.getItem(CONVERSATION_KEY) || "null");
      return entry && typeof entry.token === "string" ? entry : null;
    } catch (err) {
      return null; // an id from an older widget: not a token, so a new conversation
    }
  }

  function expired(entry) {
    return Date.now() - (entry.at || 0) > (entry.idleMs || DEFAULT_IDLE_MS);
  }

  function touch() {
    const entry = stored();
    if (entry) localStorage.setItem(CONVERSATION_KEY, JSON.stringify({ ...entry, at: Date.now() }));
  }

  // Forget this browser's conversation and open a new one (after "End chat" or the idle expiry).
  function restart() {
    localStorage.removeItem(CONVERSATION_KEY);
    outbox.clear();
    saveOutbox();
    log.replaceChildren();
    setMode({ mode: "bot" });
    setUnread(0);
    if (socket && socket.readyState <= WebSocket.OPEN) {
      restarting = true;
      socket.close();
    } else if (!socket) {
      connect();
    }
  }

  function endChat() {
    if (connected) socket.send(JSON.stringify({ type: "end" }));
    endedNotice = true;
    restart();
  }

  function transmit(clientId) {
    const entry = outbox.get(clientId);
    if (entry && connected) {
      socket.send(JSON.stringify({ type: "message", text: entry.text, payload: entry.payload, client_id: clientId }));
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome": {
        connected = true;
        retryMs = 500;
        banner.hidden = true;
        const previous = stored();
        localStorage.setItem(CONVERSATION_KEY, JSON.stringify({
          token: frame.token,
          at: previous && previous.token === frame.token ? previous.at : Date.now(),
          idleMs: (frame.idle_expiry_s || DEFAULT_IDLE_MS / 1000) * 1000,
        }));
        maxChars = frame.max_message_chars || maxChars;
        log.replaceChildren();
        for (const m of frame.history) {
          outbox.delete(m.client_id);
          show(m);
        }
        if (endedNotice) {
          endedNotice = false;
          notice("You ended the chat, and this device no longer keeps it. Ask anything to start again.");
        }
        saveOutbox();
        setMode(frame.mode);
        for (const [clientId, entry] of outbox) {
          show({ author: "shopper", text: entry.text, client_id: clientId });
          transmit(clientId);
        }
        break;
      }
      case "message":
        if (frame.message.client_id && outbox.delete(frame.message.client_id)) saveOutbox();
        touch();
        show(frame.message);
        if (panel.hidden && frame.message.author !== "shopper") setUnread(unread + 1);
        break;
      case "typing": // the bot's, or the agent's (with their display name)
        typing.hidden = !frame.on;
        typing.setAttribute("aria-label", `${frame.agent || "Aisle"} is typing`);
        break;
      case "mode":
        setMode(frame);
        break;
      case "ended": // ended in this tab or another one
        endedNotice = true;
        restart();
        break;
      case "error":
        if (frame.client_id && outbox.delete(frame.client_id)) {
          saveOutbox();
          const failed = log.querySelector(`li[data-client-id="${CSS.escape(frame.client_id)}"]`);
          if (failed) failed.classList.add("failed");
        }
        notice(frame.message);
        break;
      default:
        break;
    }
  }

  function connect() {
    socket = new WebSocket(WS_URL);
    socket.addEventListener("open", () => {
      const entry = stored();
      if (entry && expired(entry)) localStorage.removeItem(CONVERSATION_KEY);
      socket.send(JSON.stringify({ type: "hello", token: entry && !expired(entry) ? entry.token : null }));
    });
    socket.addEventListener("message", (event) => {
      try {
        handle(JSON.parse(event.data));
      } catch (err) {
        console.error("aisle widget: bad frame", err);
      }
    });
    socket.addEventListener("close", () => {
      connected = false;
      typing.hidden = true;
      if (restarting) {
        restarting = false;
        connect();
        return;
      }
      banner.textContent = "Connection lost. Reconnecting…";
      banner.hidden = false;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  function newClientId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    if (text.length > maxChars) {
      notice(`That message is too long: please keep it under ${maxChars} characters.`);
      return;
    }
    const clientId = newClientId();
    outbox.set(clientId, payload ? { text, payload } : { text });
    saveOutbox();
    touch();
    show({ author: "shopper", text, client_id: clientId, created_at: new Date().toISOString() });
    transmit(clientId);
  }

  // ---- Open / close / keyboard -------------------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    setUnread(0);
    log.scrollTop = log.scrollHeight;
    input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    host.classList.remove("open");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeButton.addEventListener("click", close);
  endButton.addEventListener("click", () => {
    endChat();
    input.focus();
  });
  // A page left open past the idle expiry does not keep showing (or continue) the old conversation.
  setInterval(() => {
    const entry = stored();
    if (entry && expired(entry)) restart();
  }, IDLE_CHECK_MS);
  cancelHandoff.addEventListener("click", () => {
    if (connected) socket.send(JSON.stringify({ type: "cancel_handoff" }));
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(input.value);
    input.value = "";
  });

  // ---- Typing indicator for the agent: only while a person has the chat, at most every few seconds
  const TYPING_REPEAT_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  let typingSentAt = 0;
  let typingStop = null;
  function tellTyping(on) {
    if (connected && panel.dataset.mode === "agent") socket.send(JSON.stringify({ type: "typing", on }));
  }
  input.addEventListener("input", () => {
    if (Date.now() - typingSentAt > TYPING_REPEAT_MS) {
      typingSentAt = Date.now();
      tellTyping(true);
    }
    clearTimeout(typingStop);
    typingStop = setTimeout(() => { typingSentAt = 0; tellTyping(false); }, TYPING_IDLE_MS);
  });
  form.addEventListener("submit", () => { clearTimeout(typingStop); typingSentAt = 0; });

  window.AisleWidget = {
    open,
    close,
    ask(text, payload) {
      open();
      send(text, payload);
    },
  };
  document.body.append(host);
  connect();
})();

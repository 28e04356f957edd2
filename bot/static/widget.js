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
  // What the panel says when it opens on no conversation; a store can set its own with data-greeting
  // and data-starters="First question|Second question|..." on the script tag.
  const GREETING = (script && script.dataset.greeting) ||
    "Hi! I'm Aisle, this shop's assistant. I can find products, compare them, check an order or answer " +
    "questions about delivery and returns.";
  const STARTERS = ((script && script.dataset.starters) ||
    "Show me hiking boots|Wireless headphones under $100|Where is my order?|What's your return policy?")
    .split("|").map((t) => t.trim()).filter(Boolean).slice(0, 4);
  const FULL_SCREEN = window.matchMedia("(max-width: 480px)");
  const INTERACTIVE = "a[href], button, input, select, textarea, summary, [role=button], [role=link], [tabindex]";

  let maxChars = 2000;
  let socket = null;
  let connected = false;
  let retryMs = 500;
  let unread = 0;
  // Messages sent but not yet seen back from the server; resent after a reconnect or a reload.
  const outbox = new Map(JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]"));

  // ---- DOM ---------------------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function icon(d, size) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size));
    svg.setAttribute("height", String(size));
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }

  const chatIcon = () => icon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 " +
    "6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 " +
    "1.5 0 0 0 0-3z", 28);
  // A product without a picture: a neutral frame-and-mountain glyph.
  const imageIcon = () => icon("M5 4h14a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 2v9.6l3.3-3.3a1 " +
    "1 0 0 1 1.4 0l2.3 2.3 4.3-4.3a1 1 0 0 1 1.4 0L19 11.6V6H5zm4 1.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3z", 40);

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

  // The scrolling live region, and the list of messages inside it (a role=log element is no list).
  const scroller = el("div", "log");
  scroller.setAttribute("role", "log");
  scroller.setAttribute("aria-live", "polite");
  scroller.setAttribute("aria-label", "Conversation");
  scroller.tabIndex = 0;
  const log = el("ol", "messages");
  scroller.append(log);
  const typing = el("div", "typing");
  typing.hidden = true;
  typing.setAttribute("role", "status"); // a plain div may not carry a label: the words are for screen readers
  typing.append(el("em", "sr-only", "Aisle is typing"), el("span"), el("span"), el("span"));

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
  panel.append(header, banner, cancelHandoff, scroller, typing, form);
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

  // Image and page links from a catalog: absolute http(s) URLs, or paths on Aisle's own site (the demo
  // catalog's pictures and pages). Nothing else (javascript:, data:) reaches an attribute.
  function link(url) {
    if (typeof url !== "string" || !/^(https?:\/\/|\/(?!\/))/i.test(url)) return null;
    try {
      return new URL(url, ORIGIN).href;
    } catch (err) {
      return null;
    }
  }

  function picture(url, className) {
    const src = link(url);
    if (!src) {
      const placeholder = el("div", "placeholder " + (className || ""));
      placeholder.setAttribute("aria-hidden", "true");
      placeholder.append(imageIcon());
      return placeholder;
    }
    const img = el("img", className || "");
    img.src = src;
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    // A picture that fails to load becomes the neutral placeholder, not a broken-image icon.
    img.addEventListener("error", () => img.replaceWith(picture(null, className)), { once: true });
    return img;
  }

  function titleLink(text, url, tag) {
    const heading = el(tag || "h3");
    const href = link(url);
    if (!href) {
      heading.textContent = text;
      return heading;
    }
    const a = el("a", "", text);
    a.href = href;
    if (new URL(href).origin !== location.origin) {
      a.target = "_blank";
      a.rel = "noopener";
    }
    heading.append(a);
    return heading;
  }

  // One card per model; its colour/size variants are choices that switch the picture, price, stock and
  // what the buttons act on, without a round trip.
  function fillCard(card, p, choices) {
    card.replaceChildren();
    card.dataset.sku = p.sku;
    card.append(picture(p.image_url), titleLink(p.title, p.url));
    const meta = el("p", "meta");
    meta.append(el("span", "price", money(p.price, p.currency)));
    if (p.rating) {
      const rating = el("span", "rating", "★ " + Number(p.rating).toFixed(1));
      rating.setAttribute("aria-label", `Rated ${Number(p.rating).toFixed(1)} out of 5`);
      meta.append(rating);
    }
    if (p.in_stock === false) meta.append(el("span", "oos", "Out of stock"));
    else if (p.stock_left) meta.append(el("span", "low", `Only ${p.stock_left} left`));
    else meta.append(el("span", "in-stock", "In stock"));
    card.append(meta);
    if (choices.length > 1) {
      const group = el("div", "variants");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Options for " + p.title.split(",")[0]);
      for (const v of choices) {
        const chip = actionButton("variant", v.label, () => {
          fillCard(card, v, choices);
          const again = card.querySelector(`.variant[data-sku="${CSS.escape(v.sku)}"]`);
          if (again) again.focus();
        });
        chip.dataset.sku = v.sku;
        chip.setAttribute("aria-pressed", String(v.sku === p.sku));
        if (v.in_stock === false) chip.classList.add("unavailable");
        group.append(chip);
      }
      card.append(group);
    }
    if (p.reason) card.append(el("p", "reason", p.reason));
    const actions = el("div", "card-actions");
    for (const b of p.buttons || []) {
      actions.append(actionButton("card-button" + (/cart/i.test(b.payload || "") ? " primary" : ""), b.title,
                                  () => send(b.title + ": " + p.title, b.payload), b.title + ": " + p.title));
    }
    card.append(actions);
  }

  function carousel(cards) {
    const strip = el("div", "carousel");
    strip.setAttribute("role", "list");
    strip.setAttribute("aria-label", "Products");
    for (const p of cards) {
      const card = el("article", "card");
      card.setAttribute("role", "listitem");
      const choices = Array.isArray(p.variants) ? p.variants.filter((v) => v && v.sku && v.label) : [];
      fillCard(card, p, choices);
      strip.append(card);
    }
    return strip;
  }

  // The cart as a list of lines (picture, title, quantity × price, line total), the total, and the
  // store's checkout when the shop configured a cart link (checkout_url, or one per line for stores
  // whose link takes one item); Aisle's own demo cart has none.
  // An empty cart has no view: its text says so.
  function cartView(cart) {
    const items = Array.isArray(cart.items) ? cart.items : [];
    if (!items.length) return null; // the text says so
    const box = el("section", "cart");
    box.setAttribute("aria-label", "Your cart");
    const list = el("ul", "cart-lines");
    for (const line of items) {
      const row = el("li", "cart-line");
      row.dataset.sku = line.sku;
      row.append(picture(line.image_url, "thumb"));
      const what = el("div", "cart-what");
      what.append(titleLink(line.title, line.url, "p"));
      what.append(el("p", "cart-qty", `${line.quantity} × ${money(line.unit_price, cart.currency)}`));
      const itemLink = link(line.checkout_url); // stores whose cart link takes one item at a time
      if (itemLink) {
        const a = el("a", "item-checkout", "Add to the store's cart");
        a.href = itemLink;
        a.target = "_blank";
        a.rel = "noopener";
        a.setAttribute("aria-label", "Add to the store's cart: " + line.title);
        what.append(a);
      }
      row.append(what, el("p", "cart-line-total", money(line.line_total ?? line.unit_price * line.quantity, cart.currency)));
      list.append(row);
    }
    const total = el("p", "cart-total");
    total.append(el("span", "", "Total"), el("strong", "", money(cart.total, cart.currency)));
    box.append(list, total);
    const checkout = link(cart.checkout_url);
    if (checkout) {
      const a = el("a", "checkout", "Go to checkout");
      a.href = checkout;
      a.target = "_blank";
      a.rel = "noopener";
      box.append(a);
    }
    return box;
  }

  function comparisonView(c) {
    const products = Array.isArray(c.products) ? c.products : [];
    const rows = Array.isArray(c.rows) ? c.rows : [];
    const wrap = el("div", "comparison");
    const table = el("table");
    const caption = el("caption", "sr-only", "Comparison");
    const head = el("tr");
    head.append(el("td"));
    for (const p of products) {
      const th = el("th");
      th.scope = "col";
      th.append(titleLink(p.title, p.url, "span"));
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      const th = el("th", "", String(r.attribute));
      th.scope = "row";
      tr.append(th);
      for (const v of r.values || []) tr.append(el("td", "", String(v)));
      tbody.append(tr);
    }
    table.append(caption, thead, tbody);
    wrap.append(table);
    return wrap;
  }

  // A custom payload this widget has no view of: its plain fields, as text.
  function dataView(custom) {
    const fields = Object.entries(custom).filter(([k, v]) => k !== "type" && v !== null &&
      ["string", "number", "boolean"].includes(typeof v));
    if (!fields.length) return null;
    const dl = el("dl", "data");
    for (const [k, v] of fields) dl.append(el("dt", "", k.replace(/_/g, " ")), el("dd", "", String(v)));
    return dl;
  }

  function customView(custom) {
    if (!custom || typeof custom !== "object") return null;
    if (custom.type === "cart") return cartView(custom);
    if (custom.type === "comparison") return comparisonView(custom);
    if (custom.type === "product_cards" && Array.isArray(custom.products)) return carousel(custom.products);
    return dataView(custom);
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

  // The words of a bot or agent message: the intro alone when a view below shows the details (the
  // numbered lines and cart lines in the text are for text-only channels).
  function shownText(m, view) {
    const text = m.text || "";
    if (m.cards && m.cards.length) return m.intro || text.split("\n")[0];
    if (view && m.custom && ["cart", "comparison", "product_cards"].includes(m.custom.type)) {
      return m.custom.intro || text.split("\n")[0];
    }
    return text;
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
    const views = [];
    if (m.cards && m.cards.length) views.push(carousel(m.cards));
    const custom = customView(m.custom);
    if (custom) views.push(custom);
    const image = link(m.image);
    if (image) {
      const img = el("img", "picture");
      img.src = image;
      img.alt = "";
      img.loading = "lazy";
      views.push(img);
    }
    const text = m.author === "shopper" ? (m.text || "") : shownText(m, custom).trim();
    if (text || m.author === "agent") {
      const bubble = el("div", "bubble");
      if (m.author === "agent") bubble.append(el("span", "who", (m.agent || "Agent") + " · our team"));
      if (m.author === "shopper") bubble.append(el("p", "", text));
      else bubble.append(markdown(text));
      item.append(bubble);
    }
    item.append(...views);
    if (m.buttons && m.buttons.length) item.append(quickReplies(m.buttons));
    if (!item.childElementCount) return null; // nothing to show: never an empty bubble
    item.append(clock(m.created_at));
    return item;
  }

  function show(m) {
    const existing = (m.id && log.querySelector(`li[data-id="${m.id}"]`)) ||
      (m.client_id && log.querySelector(`li[data-client-id="${CSS.escape(m.client_id)}"]`));
    const item = messageItem(m);
    if (!item) return;
    if (existing) existing.replaceWith(item);
    else log.append(item);
    scroller.scrollTop = scroller.scrollHeight;
  }

  // A notice from this widget itself (not the server's): kept when the server's history arrives.
  function notice(text) {
    const item = messageItem({ author: "system", text, created_at: new Date().toISOString() });
    item.classList.add("local");
    log.append(item);
    scroller.scrollTop = scroller.scrollHeight;
  }

  // The greeting and a few questions to start with, when there is no conversation yet (not stored:
  // nothing is on the server until the shopper writes).
  function greet(withStarters = true) {
    if (log.querySelector("li.greeting")) return;
    const item = el("li", "msg bot greeting");
    const bubble = el("div", "bubble");
    bubble.append(markdown(GREETING));
    item.append(bubble);
    if (withStarters && STARTERS.length) {
      const starters = quickReplies(STARTERS.map((title) => ({ title })));
      starters.classList.add("starters");
      starters.setAttribute("role", "group");
      starters.setAttribute("aria-label", "Suggested questions");
      item.append(starters);
    }
    log.prepend(item);
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

  // Forget this browser's conversation (after "End chat" or the idle expiry); the next one starts
  // when the shopper writes again.
  function restart(ended) {
    localStorage.removeItem(CONVERSATION_KEY);
    outbox.clear();
    saveOutbox();
    const old = socket;
    socket = null;
    connected = false;
    if (old) old.close();
    banner.hidden = true;
    typing.hidden = true;
    log.replaceChildren();
    setMode({ mode: "bot" });
    setUnread(0);
    if (ended) notice("You ended the chat, and this device no longer keeps it. Ask anything to start again.");
    greet();
  }

  function endChat() {
    if (connected) socket.send(JSON.stringify({ type: "end" }));
    restart(true);
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
        const notices = [...log.querySelectorAll("li.msg.system.local")];
        log.replaceChildren(...notices);
        for (const m of frame.history) {
          outbox.delete(m.client_id);
          show(m);
        }
        if (!frame.history.length) greet(outbox.size === 0);
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
        restart(true);
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

  // The socket (and with it a conversation) exists only once the shopper opens the panel or sends,
  // or when this browser already has a conversation to resume: a page view alone creates nothing.
  function connect() {
    const ws = new WebSocket(WS_URL);
    socket = ws;
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      const entry = stored();
      if (entry && expired(entry)) localStorage.removeItem(CONVERSATION_KEY);
      ws.send(JSON.stringify({ type: "hello", token: entry && !expired(entry) ? entry.token : null }));
    });
    ws.addEventListener("message", (event) => {
      if (ws !== socket) return; // a socket closed on purpose (end of chat) says nothing more
      try {
        handle(JSON.parse(event.data));
      } catch (err) {
        console.error("aisle widget: bad frame", err);
      }
    });
    ws.addEventListener("close", () => {
      if (ws !== socket) return;
      connected = false;
      typing.hidden = true;
      banner.textContent = "Connection lost. Reconnecting…";
      banner.hidden = false;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  function ensureConnected() {
    if (!socket) connect();
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
    log.querySelectorAll(".starters").forEach((x) => x.remove());
    ensureConnected();
    transmit(clientId);
  }

  // ---- Open / close / keyboard -------------------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    panel.setAttribute("aria-modal", String(FULL_SCREEN.matches));
    setUnread(0);
    if (!log.childElementCount && !stored()) greet();
    ensureConnected();
    scroller.scrollTop = scroller.scrollHeight;
    input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    host.classList.remove("open");
    launcher.focus();
    placeLauncher();
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
    if (entry && expired(entry)) restart(false);
  }, IDLE_CHECK_MS);
  cancelHandoff.addEventListener("click", () => {
    if (connected) socket.send(JSON.stringify({ type: "cancel_handoff" }));
  });
  // Full screen (phones) the panel is modal: Tab and Shift+Tab go round inside it, Escape closes it.
  function trapFocus(event) {
    const inside = [...panel.querySelectorAll(INTERACTIVE)].filter((x) =>
      !x.disabled && x.tabIndex >= 0 && x.getClientRects().length > 0);
    if (!inside.length) return;
    const first = inside[0];
    const last = inside[inside.length - 1];
    const current = root.activeElement;
    if (event.shiftKey && (current === first || !panel.contains(current))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (current === last || !panel.contains(current))) {
      event.preventDefault();
      first.focus();
    }
  }

  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    else if (event.key === "Tab" && FULL_SCREEN.matches) trapFocus(event);
  });

  // The closed launcher steps aside (a small tab at the screen edge) while a link, button or field of
  // the page lies under it, so it never hides the store's own controls.
  function underLauncher() {
    const r = host.getBoundingClientRect();
    const points = [[0.5, 0.5], [0.15, 0.15], [0.85, 0.15], [0.15, 0.85], [0.85, 0.85]];
    return points.some(([fx, fy]) => document.elementsFromPoint(r.left + fx * r.width, r.top + fy * r.height)
      .some((node) => node !== host && !host.contains(node) && node.closest(INTERACTIVE)));
  }

  let placing = false;
  function placeLauncher() {
    if (placing) return;
    placing = true;
    requestAnimationFrame(() => {
      placing = false;
      launcher.classList.toggle("tucked", panel.hidden && underLauncher());
    });
  }
  window.addEventListener("scroll", placeLauncher, { passive: true });
  window.addEventListener("resize", placeLauncher);
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
  placeLauncher();
  if (stored() && !expired(stored())) connect(); // a conversation to resume (unread agent replies)
})();

// Console enhancements; every page works without them. Live Markdown preview while editing an answer.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const answer = document.querySelector("textarea[data-preview]");
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!answer || !token) return;
  const target = document.querySelector(answer.dataset.preview);
  let timer = null;
  answer.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const body = new URLSearchParams({ answer: answer.value });
      const resp = await fetch("/admin/faq/preview", {
        method: "POST", body, headers: { "X-CSRF-Token": token.content }, credentials: "same-origin",
      });
      // The server renders with raw HTML disabled, so its output is safe to insert.
      if (resp.ok) target.innerHTML = await resp.text();
    }, 300);
  });
});

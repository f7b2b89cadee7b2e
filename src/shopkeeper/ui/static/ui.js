// A little plain JavaScript, no framework: progressive enhancement only.
// Every page works without it; with it, elements marked data-preview fetch a
// live preview (JSON) as the user types and show it in place.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const source of document.querySelectorAll("[data-preview]")) {
    const target = document.getElementById(source.dataset.previewTarget);
    if (!target) continue;
    const url = source.dataset.preview;
    const refresh = debounce(async () => {
      const text = source.value.trim();
      if (!text) { target.textContent = ""; return; }
      target.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(url + "?definition=" + encodeURIComponent(text), {
          headers: { "accept": "text/html; fragment=1" },
          credentials: "same-origin",
        });
        target.innerHTML = await response.text();
      } finally {
        target.removeAttribute("aria-busy");
      }
    }, 400);
    source.addEventListener("input", refresh);
    if (source.value.trim()) refresh();
  }
});

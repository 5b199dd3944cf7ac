// greenline dashboard: the few things a server-rendered page cannot do by itself.
// A region with data-refresh is re-read from that address every data-interval milliseconds
// and replaced by what the server rendered (escaped there like every page).
"use strict";

function keepFresh(region) {
  const every = Math.max(Number(region.dataset.interval) || 5000, 1000);
  const refresh = async () => {
    try {
      const reply = await fetch(region.dataset.refresh, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        redirect: "manual",
      });
      if (reply.type === "opaqueredirect" || reply.status === 401) {
        window.location.reload(); // signed out: the page asks to sign in again
        return;
      }
      if (reply.ok) {
        region.innerHTML = await reply.text();
        region.dataset.updated = String(Date.now());
      }
    } catch (err) {
      // the server is away for a moment: try again at the next tick
    }
    window.setTimeout(refresh, every);
  };
  window.setTimeout(refresh, every);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(keepFresh);
});

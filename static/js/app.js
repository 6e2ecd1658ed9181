// Keyboard shortcuts: any element with data-hotkey="<key>" is focused (inputs) or clicked
// (links, buttons) when that key is pressed outside a text field. "?" lists them.
(function () {
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "?") {
      var keys = Array.from(document.querySelectorAll("[data-hotkey]")).map(function (el) {
        return el.dataset.hotkey + "  " + (el.getAttribute("aria-label") || el.textContent.trim() || el.placeholder);
      });
      window.alert(keys.length ? "Keyboard shortcuts\n\n" + keys.join("\n") : "No shortcuts on this page.");
      return;
    }
    var el = document.querySelector('[data-hotkey="' + CSS.escape(event.key) + '"]');
    if (!el) return;
    event.preventDefault();
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) el.focus(); else el.click();
  });
})();

// HTMX requests that fail must not fail silently, and an expired session must not paint
// the sign-in page inside a table: go to it instead.
(function () {
  document.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr && event.detail.xhr.responseURL;
    if (url && new URL(url).pathname === "/login/") {
      event.detail.shouldSwap = false;
      window.location.assign(url);
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "?";
    var banner = document.getElementById("request-error");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "request-error";
      banner.className = "error";
      banner.setAttribute("role", "alert");
      document.getElementById("main").prepend(banner);
    }
    banner.textContent = status === 404
      ? "That item is not in your clients, or no longer exists. Reload the page to see the current state."
      : "The server could not complete that (error " + status + "). Nothing was changed; reload the page and try again.";
  });
  document.addEventListener("htmx:sendError", function () {
    document.dispatchEvent(new CustomEvent("htmx:responseError", {detail: {}}));
  });
})();

// Action cards (approval queue): j/k move between cards; a, e, r, t, u act on the card that
// has focus (approve, edit, reject, take over, undo). After the queue refreshes itself, focus
// returns to the same card so a technician working by keyboard does not lose their place.
(function () {
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function cards() { return Array.from(document.querySelectorAll("[data-card]")); }
  function current() { return document.activeElement && document.activeElement.closest("[data-card]"); }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var list = cards();
    if (!list.length) return;
    var card = current();
    if (event.key === "j" || event.key === "k") {
      var index = card ? list.indexOf(card) : -1;
      var next = list[Math.max(0, Math.min(list.length - 1, index + (event.key === "j" ? 1 : -1)))];
      if (next) { next.focus(); next.scrollIntoView({block: "nearest"}); event.preventDefault(); }
      return;
    }
    if (!card) return;
    var control = card.querySelector('[data-card-key="' + CSS.escape(event.key) + '"]');
    if (!control) return;
    event.preventDefault();
    control.click();
    var details = control.closest("details");
    if (details) {
      var field = details.querySelector("textarea, input, select");
      if (field) setTimeout(function () { field.focus(); }, 0);
    }
  });
  var focusedId = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var card = current();
    focusedId = card ? card.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!focusedId || current()) return;
    var again = document.getElementById(focusedId);
    if (again) again.focus({preventScroll: true});
  });
})();

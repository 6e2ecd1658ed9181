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

// Keyboard shortcuts and small comforts for the review page. Everything works without this file:
// shortcuts only click the buttons and summaries that carry a data-shortcut attribute.
"use strict";

(function () {
  // A message already in the live region when the page loads is not announced by screen readers;
  // putting it back a moment later is.
  function announce() {
    var region = document.getElementById("status");
    if (!region || !region.firstElementChild) return;
    var nodes = Array.prototype.slice.call(region.childNodes);
    region.replaceChildren();
    window.setTimeout(function () { region.replaceChildren.apply(region, nodes); }, 150);
  }

  function typingIn(target) {
    return target instanceof Element && target.closest("input, textarea, select, [contenteditable='true']") !== null;
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typingIn(event.target)) {
      if (event.key === "Escape") event.target.blur(); // back to the shortcuts
      return;
    }
    if (event.key === "Escape") {
      var help = document.getElementById("help");
      if (help && help.open) help.open = false;
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var controls = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      if (control.disabled || control.getAttribute("data-shortcut").split(" ").indexOf(key) < 0) continue;
      event.preventDefault();
      control.click();
      if (control.tagName === "SUMMARY") control.focus();
      return;
    }
  }

  // A second key press while the first decision is on its way must not send another one.
  function onSubmit(event) {
    var form = event.target;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
  }

  // Coming back with the browser's Back button shows the cached page: let its forms be sent again.
  function onShow(event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.removeAttribute("aria-busy");
    });
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("submit", onSubmit);
  window.addEventListener("pageshow", onShow);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", announce);
  } else {
    announce();
  }
})();

/* The invite page (issue 16): "Copy" puts one code on the clipboard and says so beside the
 * button; "Print a card" prints the cards only (the print style hides the rest of the page).
 * No inline script: the buttons are found by their data attributes. */
(function () {
  "use strict";

  /* Strings go through Django's JavaScript catalogue (/jsi18n/) so they can be translated. The
   * calls are spelled gettext/ngettext/pgettext/interpolate (never an alias) so that
   * `makemessages -d djangojs` finds them; without the catalogue they fall back to English. */
  var gettext = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };

  function say(button, text) {
    var status = document.getElementById(button.getAttribute("aria-controls") || "");
    if (status) { status.textContent = text; }
  }

  function copyFallback(code) {
    var area = document.createElement("textarea");
    area.value = code;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (ignored) { done = false; }
    document.body.removeChild(area);
    return done;
  }

  function copy(button) {
    var code = button.getAttribute("data-copy") || "";
    var copied = function () { say(button, gettext("Copied. Paste it where you need it.")); };
    var failed = function () {
      say(button, copyFallback(code) ? gettext("Copied. Paste it where you need it.")
        : gettext("Could not copy. Select the code and copy it yourself."));
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(code).then(copied, failed);
    } else {
      failed();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
}());

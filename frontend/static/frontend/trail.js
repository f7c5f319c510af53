/* Issue 17: a short trail, and the quick-exit tip.
 *
 * Links marked data-replace (on About and the information pages) move on with
 * location.replace, so the page she leaves is not left in the browser's history: Back after a
 * quick exit never finds the one page that says what Haven is for. A page that holds
 * data-trail="replace" (Get help, whose services say whom they are for) does this for every
 * link on it, the header's and other websites' too.
 *
 * The tip under "Leave now" (Shift 3 times) shows until she hides it; hiding it is remembered
 * in this browser's storage as one neutral flag, nothing else (the quick exit clears it). */
(function () {
  "use strict";

  var TIP_KEY = "tip-hidden";

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) { return; }
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
    var target = event.target;
    var link = target && target.closest ? target.closest("a[href]") : null;
    if (!link || !/^https?:/.test(link.href) || link.target) { return; }
    if (!link.hasAttribute("data-replace") && !document.querySelector("[data-trail=replace]")) {
      return;
    }
    if (link.hash && link.pathname === window.location.pathname) { return; }
    event.preventDefault();
    window.location.replace(link.href);
  });

  function tipHidden() {
    try { return window.localStorage.getItem(TIP_KEY) === "1"; } catch (ignored) { return false; }
  }

  function setUpTip() {
    var tip = document.getElementById("exit-tip");
    var hide = document.getElementById("exit-tip-hide");
    if (!tip || !hide || tipHidden()) { return; }
    tip.hidden = false;
    hide.addEventListener("click", function () {
      tip.hidden = true;
      try { window.localStorage.setItem(TIP_KEY, "1"); } catch (ignored) { /* shown again next time */ }
      var leave = document.getElementById("leave-now");
      if (leave) { leave.focus(); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpTip);
  } else {
    setUpTip();
  }
})();

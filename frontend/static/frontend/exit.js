/* Quick exit, on every page: the "Leave now" button, or Shift pressed three times.
 * The page is blanked at once, the browser goes to a neutral site with location.replace (so
 * Back does not return here), and the session is signed out in the background. A mark left
 * first (a cookie) signs this browser out on its next request to Haven even if that request
 * beats the background sign-out (groups.middleware.QuickExitMiddleware). */
(function () {
  "use strict";

  var exitUrl = document.body.getAttribute("data-exit-url") || "https://www.bbc.co.uk/weather";
  var leftCookie = document.body.getAttribute("data-left-cookie") || "left";

  /* SameSite=Lax, as the session cookie: sent on every request that carries the session,
   * Back from the neutral site (another site) included. */
  function leaveMark() {
    var secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = leftCookie + "=1; Path=/; SameSite=Lax" + secure;
  }
  var leaving = false;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)(?:__Host-)?csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* On a room page, the session it shows (#room's data-config), so the hosts can be told she
   * left quickly (her choice in Settings; the server decides). Read before the page is blanked. */
  function roomSessionId() {
    try {
      var room = document.getElementById("room");
      if (!room || !room.dataset.config) { return ""; }
      var id = JSON.parse(room.dataset.config).session_id;
      return typeof id === "number" ? String(id) : "";
    } catch (ignored) { return ""; }
  }

  function leave() {
    if (leaving) { return; }
    leaving = true;
    try { leaveMark(); } catch (ignored) { /* the beacon below still signs her out */ }
    var room = roomSessionId();
    try {
      document.title = "";
      document.documentElement.classList.add("leaving");
      document.body.textContent = "";
    } catch (ignored) { /* keep going */ }
    try { window.sessionStorage.clear(); window.localStorage.clear(); } catch (ignored) { /* none */ }
    try {
      var data = new FormData();
      data.append("beacon", "1");
      data.append("csrfmiddlewaretoken", csrfToken());
      if (room) { data.append("room", room); }
      navigator.sendBeacon("/signout/", data);
    } catch (ignored) { /* the session still ends after 8 hours or when the browser closes */ }
    window.location.replace(exitUrl);
  }

  window.havenLeave = leave;

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest(".leave-now")) {
      event.preventDefault();
      leave();
    }
  });

  /* Three presses of Shift on its own, close together. Any other key in between (typing a
   * capital letter) starts the count again, so writing never triggers it. */
  var presses = [];
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift") { presses = []; return; }
    if (event.repeat) { return; }
    var now = Date.now();
    presses = presses.filter(function (t) { return now - t < 2000; });
    presses.push(now);
    if (presses.length >= 3) { leave(); }
  });
})();

/* The live room client (issue 14: phone first). Speaks PROTOCOL.md and docs/protocol-extensions.md
 * over one WebSocket; reconnects with backoff and resumes from the last seq it applied, so
 * nothing is shown twice or lost. Text is only ever set as textContent, never as HTML. Nothing
 * is kept in browser storage.
 *
 * The page is one scroll area (the document): a sticky state bar at the top, the messages, and
 * a sticky dock at the bottom holding her private notices, the reason she cannot send (if any)
 * and the message box. */
(function () {
  "use strict";

  var root = document.getElementById("room");
  if (!root) { return; }
  var config = JSON.parse(root.getAttribute("data-config"));
  /* Strings go through Django's JavaScript catalogue (/jsi18n/) so they can be translated. The
   * calls are spelled gettext/ngettext/pgettext/interpolate (never an alias) so that
   * `makemessages -d djangojs` finds them; without the catalogue they fall back to English. */
  var gettext = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };
  var ngettext = typeof window.ngettext === "function" ? window.ngettext : function (one, many, n) { return n === 1 ? one : many; };
  var pgettext = typeof window.pgettext === "function" ? window.pgettext : function (context, text) { return text; };
  var interpolate = typeof window.interpolate === "function" ? window.interpolate : function (text, args, named) {
    if (named) { return text.replace(/%\(\w+\)s/g, function (m) { return String(args[m.slice(2, -2)]); }); }
    var index = 0;
    return text.replace(/%s/g, function () { return String(args[index++]); });
  };
  var $ = function (id) { return document.getElementById(id); };
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  var cwLabels = {};
  config.content_warnings.forEach(function (cw) { cwLabels[cw.key] = cw.label; });
  var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
  var wide = window.matchMedia ? window.matchMedia("(min-width: 52rem)") : { matches: true };

  var state = {
    socket: null,
    lastSeq: 0,
    resuming: false,
    online: false,
    everOnline: false,
    finalCode: null,
    ended: false,
    me: null,
    isHost: false,
    mayEnd: false,
    status: null,
    note: null,
    present: {},
    removed: {},
    names: {},
    messages: {},
    round: null,
    myOutcome: null,
    mutedUntil: null,
    steppedOut: false,
    attempts: 0,
    historyHidden: false,
    backlogDone: false,
    follow: true,
    unread: 0,
    leftAt: null,
    awayCount: 0,
    pending: null,
    notices: {},
    seenNotices: {},
    selectedMessage: null,
    moderation: null,
    openMenu: null,
    support: null,
    supportQueue: null,
    supports: {},
    seenSent: {},
    threads: {},
    privateSeen: {},
    privatePending: null,
    privateUnread: 0,
    privateOpened: false,
    checkins: [],
    askedIn: false
  };
  (config.notices || []).forEach(function (n) { state.seenNotices[n.notice_id] = true; });

  var FINAL = {
    4401: gettext("You are signed out. Please sign in again."),
    4403: gettext("You can no longer take part in this session."),
    4404: gettext("This session cannot be found."),
    4409: gettext("Please reload this page to read the group's agreement and accept it."),
    4410: gettext("This session is not open yet. Please come back at its start time."),
    4429: gettext("This session is open on too many of your tabs or devices. Close one, then reload this page.")
  };

  /* --- small tools ------------------------------------------------------------------ */

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)(?:__Host-)?csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function button(label, className, handler) {
    var node = el("button", className || "small secondary", label);
    node.type = "button";
    if (handler) { node.addEventListener("click", handler); }
    return node;
  }

  /* A button whose name says more than its label ("Mute" + " Rose"), label first. */
  function namedButton(label, extra, className, handler) {
    var node = button(label, className, handler);
    if (extra) { node.appendChild(el("span", "visually-hidden", " " + extra)); }
    return node;
  }

  function show(node, visible) { node.hidden = !visible; }

  var LANG = document.documentElement.lang || undefined;
  function hhmm(iso) {
    var date = new Date(iso);
    try {
      return date.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    } catch (ignored) {
      return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
    }
  }

  function longDate(iso) {
    var date = new Date(iso);
    try {
      return date.toLocaleDateString(LANG, { weekday: "long", day: "numeric", month: "long" }) + ", " + hhmm(iso);
    } catch (ignored) { return date.toDateString() + ", " + hhmm(iso); }
  }

  function minutesLeft(iso) {
    var ms = new Date(iso).getTime() - Date.now();
    if (ms <= 60000) { return gettext("less than a minute left"); }
    var minutes = Math.ceil(ms / 60000);
    return interpolate(ngettext("%s minute left", "%s minutes left", minutes), [minutes]);
  }

  function ordinal(n) {
    var tens = n % 100;
    var ones = n % 10;
    var suffix = pgettext("ordinal", "th");
    if (tens < 11 || tens > 13) {
      if (ones === 1) { suffix = pgettext("ordinal", "st"); }
      else if (ones === 2) { suffix = pgettext("ordinal", "nd"); }
      else if (ones === 3) { suffix = pgettext("ordinal", "rd"); }
    }
    return n + suffix;
  }

  function roleLabel(role) {
    if (role === "peer_mentor") { return gettext("Peer mentor"); }
    if (role === "facilitator") { return gettext("Facilitator"); }
    return "";
  }

  function isMe(memberId) { return !!(state.me && memberId === state.me.member_id); }

  function nameOf(memberId) {
    var person = state.present[memberId];
    if (person) { return person.display_name; }
    return state.names[memberId] || gettext("Someone");
  }

  function remember(person) {
    if (person && person.member_id !== undefined && person.display_name) { state.names[person.member_id] = person.display_name; }
  }

  /* --- what a screen reader hears ----------------------------------------------------- */

  function announce(text, urgent, messageId) {
    if (!text) { return; }
    var region = $(urgent ? "alert-live" : "live");
    var line = el("p", null, text);
    if (messageId !== undefined) { line.setAttribute("data-message-id", messageId); }
    region.appendChild(line);
    while (region.childNodes.length > 4) { region.removeChild(region.firstChild); }
    window.setTimeout(function () { if (line.parentNode) { line.parentNode.removeChild(line); } }, 10000);
  }

  /* A message hidden or folded behind a warning is not left readable in the live region. */
  function unannounce(messageId) {
    each(document.querySelectorAll('#live [data-message-id="' + messageId + '"]'), function (line) {
      line.parentNode.removeChild(line);
    });
  }

  function feedback(text) {
    var line = $("feedback");
    line.textContent = text || "";
    show(line, !!text);
    if (text) { announce(text); }
    followIfNeeded();
  }

  /* --- scrolling: one scroll area, the document ----------------------------------------- */

  var scroller = document.scrollingElement || document.documentElement;
  /* She opens at the newest message, not where the browser remembers she was. */
  if ("scrollRestoration" in window.history) { window.history.scrollRestoration = "manual"; }

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - window.innerHeight < 48;
  }

  function toBottom() {
    window.scrollTo(0, scroller.scrollHeight);
    state.follow = true;
  }

  function followIfNeeded() {
    if (state.follow && !state.steppedOut && !state.ended) {
      window.requestAnimationFrame(function () { if (state.follow) { toBottom(); } });
    }
  }

  /* Only her scrolling up stops the following. The browser reports a scroll a frame late: a
     message drawn between the page's own scroll to the bottom and that report makes the page
     taller, and must not count as her having moved away from the newest message. */
  var lastTop = scroller.scrollTop;
  window.addEventListener("scroll", function () {
    var top = scroller.scrollTop;
    var up = top < lastTop;
    lastTop = top;
    if (state.steppedOut || state.ended) { return; }
    if (atBottom()) {
      state.follow = true;
      if (state.unread) { clearUnread(); }
    } else if (up) {
      state.follow = false;
    }
  }, { passive: true });

  /* A notice, the reason line or a revealed message changes the height: stay at the bottom
     when she was there, and keep focused things clear of the sticky dock. */
  if (window.ResizeObserver) {
    var watcher = new ResizeObserver(function () {
      document.documentElement.style.setProperty("--dock-h", $("dock").offsetHeight + "px");
      document.documentElement.style.setProperty("--bar-h", $("statebar").offsetHeight + "px");
      followIfNeeded();
    });
    watcher.observe($("dock"));
    watcher.observe($("messages"));
    watcher.observe($("statebar"));
  }

  function clearUnread() {
    state.unread = 0;
    show($("jump"), false);
  }

  function markUnread(item) {
    if (state.unread === 0) {
      var old = $("unread-line");
      if (old) { old.parentNode.removeChild(old); }
      var line = el("li", "unread-line");
      line.id = "unread-line";
      line.tabIndex = -1;
      line.appendChild(el("span", null, gettext("New messages")));
      item.parentNode.insertBefore(line, item);
    }
    state.unread += 1;
    var jump = $("jump");
    jump.textContent = interpolate(ngettext("%s new message", "%s new messages", state.unread), [state.unread]);
    show(jump, true);
  }

  $("jump").addEventListener("click", function () {
    var line = $("unread-line");
    clearUnread();
    if (line) {
      line.focus({ preventScroll: true });
      line.scrollIntoView({ block: "start" });
      state.follow = atBottom();
    } else {
      toBottom();
      $("body").focus();
    }
  });

  /* --- connection ------------------------------------------------------------------- */

  /* How long to wait before trying again (issue 20): "full jitter". Each wait is drawn at random
     between RECONNECT_FLOOR_MS and min(cap, RECONNECT_BASE_MS * 2^attempt), so the members of a
     server process that stopped do not all come back at the same instants; the floor keeps a
     phone from retrying in a tight loop. The cap is 5 s, as in Phoenix's and Socket.IO's
     clients: a refused connection costs a stopped server nothing, and after a restart she is
     back within about 5 s of it, not 15 (docs/performance.md). bench/storm.py reads these numbers and this formula
     from here (tests/bench checks it can), so the benchmark's members wait as she does. */
  var RECONNECT_FLOOR_MS = 250;
  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_CAP_MS = 5000;
  var RESUME_CAP_MS = 16000;

  function backoff(attempt, cap) {
    var ceiling = Math.min(cap, RECONNECT_BASE_MS * Math.pow(2, attempt));
    return RECONNECT_FLOOR_MS + Math.random() * Math.max(0, ceiling - RECONNECT_FLOOR_MS);
  }

  function send(payload) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(payload));
      return true;
    }
    return false;
  }

  /* Ask for what she missed. After a refusal nothing asks again (not the heartbeat, not a
     gap) until the wait is over: asking sooner only keeps the limit full. */
  function resume(force) {
    if (state.resuming) { return; }
    if (!force && state.resumeAfter && Date.now() < state.resumeAfter) { return; }
    if (send({ type: "resume", after_seq: state.lastSeq })) { state.resuming = true; }
  }

  function connect() {
    if (state.ended || state.finalCode) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/sessions/" + config.session_id + "/");
    state.socket = socket;
    state.resuming = false;
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (ignored) { return; }
      handle(data);
    };
    socket.onclose = function (event) {
      if (state.socket !== socket) { return; }
      state.online = false;
      state.resuming = false;
      root.setAttribute("data-conn", "offline");
      if (state.pending) { state.pending.sent = false; showSending(false); $("body").readOnly = false; }
      if (state.supportQueue) { state.supportQueue.sent = false; }
      if (state.ended) { render(); return; }
      if (event.code === 4410 && (state.status === "live" || state.status === "paused" || state.status === "open")) {
        /* The session closed while she was away from the network. */
        showEnd(null);
        return;
      }
      if (event.code === 4409 && !/[?&]door=1/.test(window.location.search)) {
        /* Issue 16: the page itself is the door: what changed, and "I accept" (once). */
        window.location.replace(window.location.pathname + "?door=1");
        return;
      }
      if (FINAL[event.code]) {
        state.finalCode = event.code;
        root.setAttribute("data-conn", "closed");
        render();
        announce(FINAL[event.code]);
        return;
      }
      var delay = backoff(state.attempts, RECONNECT_CAP_MS);
      state.attempts += 1;
      render();
      window.setTimeout(connect, delay);
    };
  }

  /* --- events ----------------------------------------------------------------------- */

  function handle(event) {
    if (event.type === "history.hidden") {
      /* Everything up to this seq is not hers to read (said before she came, or too old for
         one resume): move past it, and say so once, plainly. */
      if (event.seq > state.lastSeq) { state.lastSeq = event.seq; }
      if (!state.historyHidden) {
        state.historyHidden = true;
        var line = el("li", "system", gettext("Earlier messages are not shown."));
        $("messages").insertBefore(line, $("messages").firstChild);
      }
      return;
    }
    if (event.seq !== undefined && event.type !== "ack" && event.type !== "resume.done") {
      if (event.seq <= state.lastSeq) { return; }
      if (event.seq > state.lastSeq + 1) { resume(); return; }
      state.lastSeq = event.seq;
    }
    var handler = HANDLERS[event.type];
    if (handler) { handler(event); }
  }

  var HANDLERS = {
    "session.state": function (event) {
      state.attempts = 0;
      state.online = true;
      state.everOnline = true;
      root.setAttribute("data-conn", "online");
      state.me = event.me;
      state.isHost = !!event.me.is_host;
      state.mutedUntil = event.me.muted_until;
      $("room-title").textContent = event.session.title;
      state.status = event.session.status;
      state.present = {};
      event.present.forEach(function (p) { state.present[p.member_id] = p; remember(p); });
      state.removed = {};
      (event.removed || []).forEach(function (p) { state.removed[p.member_id] = p; remember(p); });
      state.serverMayEnd = event.me.may_end;
      state.support = event.me.support || state.support;
      state.supports = {};
      (event.support || []).forEach(function (r) { state.supports[r.request_id] = r; });
      state.checkins = event.checkins || [];
      setRound(event.round);
      if (state.steppedOut) { send({ type: "presence.set", status: "stepped_out" }); }
      render();
      /* Always resume, even from 0: the replay brings what she missed and her private notices. */
      state.resuming = false;
      resume();
    },
    "resume.done": function () {
      state.resuming = false;
      state.resumeRetries = 0;
      state.resumeAfter = 0;
      if (!state.backlogDone) {
        askCheckin();
        state.backlogDone = true;
        root.setAttribute("data-backlog", "done");
        toBottom();
        window.requestAnimationFrame(toBottom);
      }
      if (state.pending && !state.pending.sent) { resendPending(); }
      flushSupport();
    },
    "heartbeat": function (event) { if (event.last_seq > state.lastSeq) { resume(); } },
    "message": function (event) { receiveMessage(event); },
    "message.hidden": function (event) {
      var message = state.messages[event.message_id];
      unannounce(event.message_id);
      if (message) { message.hidden = true; message.body = null; renderMessage(message); }
    },
    "message.warning_set": function (event) {
      var message = state.messages[event.message_id];
      unannounce(event.message_id);
      if (message) { message.content_warning = event.content_warning; message.revealed = false; renderMessage(message); }
    },
    "member.muted": function (event) {
      if (event.member_id === null || event.member_id === undefined) {
        if (event.announced) { systemLine(gettext("Someone is taking a pause.")); }
        return;
      }
      if (isMe(event.member_id)) {
        state.mutedUntil = event.until;
      } else if (state.isHost) {
        var person = state.present[event.member_id];
        if (person) { person.muted_until = event.until; }
        announce(interpolate(gettext("%(name)s is muted until %(time)s."), { name: nameOf(event.member_id), time: hhmm(event.until) }, true));
      }
      if (event.announced) { systemLine(gettext("Someone is taking a pause.")); }
      render();
    },
    "member.unmuted": function (event) {
      if (event.member_id === null || event.member_id === undefined) { return; }
      if (isMe(event.member_id)) {
        state.mutedUntil = null;
        dropNotices("muted");
      } else if (state.present[event.member_id]) {
        state.present[event.member_id].muted_until = null;
      }
      render();
    },
    "member.removed": function (event) {
      if (state.isHost) {
        state.removed[event.member_id] = { member_id: event.member_id, display_name: nameOf(event.member_id) };
      }
      delete state.present[event.member_id];
      render();
    },
    "session.status": function (event) {
      var before = state.status;
      state.status = event.status;
      state.note = event.note;
      if (event.status === "ended") {
        showEnd(event.next_session || null, true);
        return;
      }
      if (event.status === "paused") {
        systemLine(gettext("The host paused the room for a grounding break.") + (event.note ? " " + event.note : ""));
      } else if (event.status === "live" && before === "paused") {
        systemLine(gettext("The room is live again."));
      } else if (event.status === "live") {
        systemLine(gettext("The session has started."));
        if (state.backlogDone) { askCheckin(); }
      }
      render();
    },
    "round.started": function (event) {
      state.myOutcome = null;
      setRound({ prompt: event.prompt, order: event.order, current: event.current, outcomes: event.outcomes || {} });
      systemLine(interpolate(gettext("Round started: %s"), [event.prompt]));
      render();
      if (isMe(event.current)) { announce(gettext("Your turn.")); }
    },
    "round.turn": function (event) {
      if (!state.round) { return; }
      if (event.previous !== null && event.previous !== undefined) {
        var outcome = event.skipped ? "skipped" : (event.passed ? "passed" : "done");
        state.round.outcomes[String(event.previous)] = outcome;
        if (isMe(event.previous)) { state.myOutcome = outcome; }
      }
      state.round.current = event.current;
      render();
      if (isMe(event.current)) { announce(gettext("Your turn.")); }
    },
    "round.ended": function () {
      setRound(null);
      state.myOutcome = null;
      systemLine(gettext("Round finished"));
      render();
    },
    "presence": function (event) {
      remember(event);
      var known = state.present[event.member_id];
      if (event.status === "left") {
        if (known && state.isHost && !isMe(event.member_id) && event.role === "facilitator") {
          var text = interpolate(gettext("%s has left the room."), [event.display_name]);
          if (!facilitatorPresent(event.member_id) && state.me.role !== "facilitator") {
            text += " " + gettext("Until a facilitator is back, you can pause, resume and end the session.");
          }
          hostAlert(text);
        }
        delete state.present[event.member_id];
      } else {
        var entry = { member_id: event.member_id, display_name: event.display_name, role: event.role, status: event.status };
        if (known && known.muted_until) { entry.muted_until = known.muted_until; }
        state.present[event.member_id] = entry;
        if (state.removed[event.member_id]) { delete state.removed[event.member_id]; }
      }
      render();
    },
    "support.requested": function (event) {
      var fresh = !state.supports[event.request_id];
      state.supports[event.request_id] = event;
      if (fresh) { hostAlert(supportLine(event) + (event.note ? " " + event.note : "")); }
      render();
    },
    "private.message": function (event) { receivePrivate(event); },
    "checkin.saved": function (event) { checkinSaved(event); },
    "checkin.skipped": function (event) {
      skipped(event.moment);
      var card = $("checkin");
      if (event.moment === "in" && card && !card.classList.contains("checkin-done")) { card.parentNode.removeChild(card); }
    },
    "checkin": function (event) {
      state.checkins = state.checkins.filter(function (c) { return !(c.member_id === event.member_id && c.moment === event.moment); });
      state.checkins.push(event);
      renderCheckins();
    },
    "support.sent": function (event) {
      var queued = state.supportQueue;
      if (queued && queued.clientId === event.client_id) { state.supportQueue = null; }
      state.support = event;
      renderSupport(true);
      renderPrivateButton();
    },
    "support.updated": function (event) {
      var mine = state.support;
      if (mine && mine.request_id === event.request_id) {
        mine.status = event.status;
        mine.by = event.by;
        renderSupport(true);
      }
      var row = state.supports[event.request_id];
      if (row) {
        if (event.status === "closed") { delete state.supports[event.request_id]; }
        else { row.status = event.status; row.by = event.by; }
        render();
      }
    },
    "concern.raised": function (event) {
      var link = el("a", null, gettext("Open the concern"));
      link.href = "/concerns/" + event.concern_id + "/";
      /* Whole sentences per urgency, so every language can word them its own way. */
      var raised = {
        low: gettext("A new concern was raised. It is not urgent."),
        urgent: gettext("A new urgent concern was raised.")
      };
      hostAlert(raised[event.urgency] || gettext("A new concern was raised."), link);
    },
    "concern.updated": function () {
      feedback(gettext("There is news about a concern. You can read it under Concerns."));
    },
    "concern.answered": function () { concernDot(); },
    "notice": function (event) { addNotice(event, true); },
    "notice.dismissed": function (event) { removeNotice(event.notice_id); },
    "ack": function (event) {
      if (state.pending && state.pending.clientId === event.client_id) { pendingDone(); }
    },
    "error": function (event) {
      if (state.pending && event.ref && event.ref === state.pending.clientId) { refused(event); return; }
      if (state.privatePending && event.ref === state.privatePending.clientId) { privateRefused(event); return; }
      if (event.ref === "checkin.skip") { return; }
      if (event.ref === "checkin.set") {
        if (event.code === "already_answered") { var card = $("checkin"); if (card) { card.parentNode.removeChild(card); } }
        else if (state.checkinError) { state.checkinError(event.message); }
        return;
      }
      if (state.supportQueue && event.ref === state.supportQueue.clientId) {
        state.supportQueue = null;
        renderSupport(false);
        supportSay(gettext("Your request was not sent.") + " " + (event.code === "rate_limited"
          ? gettext("You asked a few times in a short time. Wait a minute, then ask again.")
          : (event.message || "") + " " + gettext("Please try again.")));
        return;
      }
      if (event.ref === "resume") {
        /* Refused (too many at once, or the database is busy): ask again a little later, when
           the server says (retry_after), or else after a jittered wait as for reconnecting. */
        state.resuming = false;
        state.resumeRetries = (state.resumeRetries || 0) + 1;
        var wait = event.retry_after ? event.retry_after * 1000 : backoff(state.resumeRetries, RESUME_CAP_MS);
        state.resumeAfter = Date.now() + wait;
        window.setTimeout(function () { resume(true); }, wait);
        return;
      }
      if (event.ref === "notice.dismiss") { return; }
      feedback(event.message);
    }
  };

  function facilitatorPresent(except) {
    return Object.keys(state.present).some(function (key) {
      var p = state.present[key];
      return p.role === "facilitator" && p.member_id !== except;
    });
  }

  function otherHostPresent() {
    return Object.keys(state.present).some(function (key) {
      var p = state.present[key];
      return (p.role === "facilitator" || p.role === "peer_mentor") && !isMe(p.member_id);
    });
  }

  function hostPresent() {
    return Object.keys(state.present).some(function (key) {
      var p = state.present[key];
      return p.role === "facilitator" || p.role === "peer_mentor";
    });
  }

  /* --- the state bar and the reason she cannot send ------------------------------------- */

  function muted() { return !!(state.mutedUntil && new Date(state.mutedUntil) > new Date()); }

  function myTurn() { return !!(state.round && state.me && state.round.current === state.me.member_id); }

  function whyNot() {
    if (state.ended) { return gettext("The session has ended."); }
    if (state.finalCode) { return FINAL[state.finalCode]; }
    if (!state.online) {
      return state.everOnline ? gettext("You are offline. Reconnecting… Anything you write stays in the box.") : gettext("Connecting…");
    }
    if (muted()) {
      return interpolate(gettext("You are muted until %(time)s (%(left)s). You can still read."), { time: hhmm(state.mutedUntil), left: minutesLeft(state.mutedUntil) }, true);
    }
    if (state.isHost) { return ""; }
    if (state.status === "paused") {
      return gettext("Paused for a grounding break.") + (state.note ? " " + state.note : "") + " " + gettext("You can write again when the host carries on.");
    }
    if (state.status === "open" || state.status === "scheduled") {
      return gettext("Waiting for the host to start. You can write once the session is live.");
    }
    return "";
  }

  function pill() {
    if (state.ended) { return ["ended", gettext("Ended")]; }
    if (!state.online) { return state.everOnline || state.finalCode ? ["offline", gettext("Offline")] : ["connecting", gettext("Connecting")]; }
    if (state.steppedOut) { return ["away", gettext("Stepped out")]; }
    if (myTurn()) { return ["turn", gettext("Your turn")]; }
    if (state.status === "paused") { return ["paused", gettext("Paused")]; }
    if (state.status === "open" || state.status === "scheduled") { return ["waiting", gettext("Waiting")]; }
    return ["live", gettext("Live")];
  }

  var lastPill = null;
  function renderStateBar() {
    var which = pill();
    var node = $("state-pill");
    node.textContent = which[1];
    node.setAttribute("data-state", which[0]);
    root.setAttribute("data-state", which[0]);
    var detail = "";
    if (which[0] === "paused") { detail = gettext("Grounding break"); }
    else if (which[0] === "offline" && !state.finalCode) { detail = gettext("Reconnecting…"); }
    else if (which[0] === "waiting") { detail = gettext("Waiting for the host"); }
    else if (state.online && !state.ended && !hostPresent()) { detail = gettext("No host here right now"); }
    $("state-text").textContent = detail;
    if (state.backlogDone && lastPill !== null && lastPill !== which[0] && which[0] !== "turn") {
      announce(which[1] + (detail ? ". " + detail : "."));
    }
    lastPill = which[0];
    var count = Object.keys(state.present).length;
    $("here-count").textContent = state.online ? interpolate(ngettext("%s here", "%s here", count), [count]) : gettext("Who is here");
    show($("tools-open"), state.isHost && !wide.matches);
  }

  var lastWhy = "";
  function renderComposer() {
    var why = whyNot();
    var line = $("why");
    line.textContent = why;
    show(line, !!why);
    var blocked = !!why;
    $("send").setAttribute("aria-disabled", blocked ? "true" : "false");
    /* A reason that is new (not only the countdown moving on) is said once. */
    var gist = why.replace(/\(.*\)/, "");
    if (why && gist !== lastWhy && state.backlogDone) { announce(why); }
    lastWhy = why ? gist : "";
    /* Offered while the session is open, live or paused, also offline (it waits, then goes). */
    var canAsk = state.everOnline && !state.ended && !state.finalCode && !!state.me &&
      ["open", "live", "paused"].indexOf(state.status) >= 0 && state.me.role !== "facilitator";
    show($("support"), canAsk);
    show($("away-support"), canAsk);
    if (!canAsk && $("support-dialog").open) { $("support-dialog").close(); }
    renderSupport(false);
    show($("step-out"), !state.ended && !state.finalCode && !state.steppedOut);
  }

  function render() {
    renderStateBar();
    renderComposer();
    renderRound();
    renderPresent();
    renderHostPanel();
    renderPlan();
    renderSupports();
    renderPrivateButton();
    renderCheckins();
    renderCountdowns();
    followIfNeeded();
  }

  /* --- the plan, for hosts (issue 16) --------------------------------------------------
     Only hosts get `config.plan` (members never receive the notes for hosts). Where a host is
     in it is hers, kept for this tab over a reload. */

  var planKey = "haven-plan-" + config.session_id;
  state.planAt = 0;
  try { state.planAt = parseInt(window.sessionStorage.getItem(planKey) || "0", 10) || 0; } catch (e) { state.planAt = 0; }

  function renderPlan() {
    var plan = config.plan || [];
    show($("plan-wrap"), state.isHost && plan.length > 0 && !state.ended);
    if (!plan.length) { return; }
    state.planAt = Math.min(Math.max(state.planAt, 0), plan.length - 1);
    var list = $("plan-list");
    list.textContent = "";
    plan.forEach(function (item, index) {
      var now = index === state.planAt;
      var row = el("li", now ? "now" : (index < state.planAt ? "done" : null));
      if (now) { row.setAttribute("aria-current", "step"); }
      var head = el("p", "plan-head");
      head.appendChild(el("span", "plan-time", hhmm(item.starts_at) + " "));
      head.appendChild(el("strong", null, item.title));
      head.appendChild(el("span", "meta", " · " + interpolate(gettext("%s min"), [item.minutes])));
      row.appendChild(head);
      if (item.content_warnings.length) {
        row.appendChild(el("p", "meta", gettext("May touch on:") + " " + item.content_warnings.map(function (key) { return cwLabels[key] || key; }).join(", ")));
      }
      if (now && item.notes) { row.appendChild(el("p", "plan-notes", item.notes)); }
      list.appendChild(row);
    });
    $("plan-prev").disabled = state.planAt === 0;
    $("plan-next").disabled = state.planAt === plan.length - 1;
  }

  function planStep(by) {
    state.planAt += by;
    try { window.sessionStorage.setItem(planKey, String(state.planAt)); } catch (e) { /* private mode */ }
    renderPlan();
    var item = config.plan[state.planAt];
    if (item) { announce(interpolate(gettext("Now: %s"), [item.title])); }
  }
  $("plan-next").addEventListener("click", function () { planStep(1); });
  $("plan-prev").addEventListener("click", function () { planStep(-1); });

  /* --- rounds ------------------------------------------------------------------------ */

  function setRound(round) {
    if (round) {
      round.outcomes = round.outcomes || {};
      state.round = round;
      if (state.me) { state.myOutcome = round.outcomes[String(state.me.member_id)] || state.myOutcome; }
    } else {
      state.round = null;
    }
  }

  function renderRound() {
    var round = state.round;
    var box = $("round-line");
    var mine = myTurn();
    show($("turn-buttons"), mine && state.online);
    root.classList.toggle("my-turn", mine);
    if (!round || state.ended) { show(box, false); return; }
    var prompt = /[.?!]$/.test(round.prompt) ? round.prompt : round.prompt + ".";
    var text;
    if (mine) {
      text = gettext("Your turn.") + " " + interpolate(gettext("Round: %s"), [prompt]) + " " + gettext("Write if you want to, then say when you have finished, or pass.");
    } else {
      text = interpolate(gettext("Round: %s"), [prompt]);
      if (state.myOutcome === "passed") { text += " " + gettext("You passed. You can still write any time."); }
      else if (state.myOutcome === "done") { text += " " + gettext("You have had your turn."); }
      else if (state.myOutcome === "skipped") { text += " " + gettext("Your turn was skipped. You can still write any time."); }
      else if (state.me) {
        var place = round.order.indexOf(state.me.member_id);
        if (place >= 0) { text += " " + interpolate(gettext("You are %s."), [ordinal(place + 1)]); }
      }
      if (round.current !== null && round.current !== undefined) {
        text += " " + interpolate(gettext("Now: %s."), [nameOf(round.current)]);
      }
    }
    $("round-text").textContent = text;
    show(box, true);
  }

  /* --- who is here -------------------------------------------------------------------- */

  function personRow(person, removed) {
    var item = el("li", "person");
    item.setAttribute("data-member-id", person.member_id);
    var name = el("span", "name", person.display_name);
    item.appendChild(name);
    if (isMe(person.member_id)) { item.appendChild(el("span", "you", " " + gettext("(you)"))); }
    if (person.role && person.role !== "member") { item.appendChild(el("span", "tag role-" + person.role, roleLabel(person.role))); }
    if (removed) { return item; }
    var notes = [];
    if (person.status === "stepped_out") { notes.push(gettext("has stepped out")); }
    var mutedUntil = person.muted_until && new Date(person.muted_until) > new Date() ? person.muted_until : null;
    if (state.isHost && mutedUntil) {
      notes.push(interpolate(gettext("is muted until %s"), [hhmm(mutedUntil)]));
    }
    if (notes.length) { item.appendChild(el("span", "meta", notes.join(", "))); }
    if (state.isHost && !isMe(person.member_id) && person.role === "member") {
      var who = person.display_name;
      var control = mutedUntil
        ? namedButton(gettext("Unmute"), who, "small secondary", function () {
          send({ type: "member.unmute", member_id: person.member_id });
        })
        : namedButton(gettext("Mute"), who, "small secondary", function () {
          openModeration("mute", { member_id: person.member_id, display_name: who }, null);
        });
      control.setAttribute("data-key", "person-" + person.member_id);
      item.appendChild(control);
      var reply = namedButton(gettext("Reply privately"), who, "small secondary", function () {
        openThread(person.member_id, who);
      });
      reply.setAttribute("data-key", "reply-" + person.member_id);
      item.appendChild(reply);
    }
    return item;
  }

  /* Lists are drawn again when the room changes; focus stays on the same control. */
  function focusKey(container) {
    var active = document.activeElement;
    return active && container.contains(active) ? active.getAttribute("data-key") || "" : null;
  }

  function refocus(container, key) {
    if (key === null) { return; }
    var again = key ? container.querySelector('[data-key="' + key + '"]') : null;
    if (again) { again.focus({ preventScroll: true }); }
  }

  function renderPresent() {
    var list = $("present");
    var key = focusKey(list);
    list.textContent = "";
    var people = Object.keys(state.present).map(function (key) { return state.present[key]; });
    people.sort(function (a, b) {
      var rank = { facilitator: 0, peer_mentor: 1, member: 2 };
      return (rank[a.role] - rank[b.role]) || a.display_name.localeCompare(b.display_name);
    });
    people.forEach(function (person) { list.appendChild(personRow(person, false)); });
    refocus(list, key);
    show($("no-host"), state.online && !hostPresent());
    var removed = $("removed");
    removed.textContent = "";
    var gone = Object.keys(state.removed);
    gone.forEach(function (key) { removed.appendChild(personRow(state.removed[key], true)); });
    show($("removed-wrap"), state.isHost && gone.length > 0);
  }

  /* Phones: the list (and the host tools) open in a sheet; wide screens show them beside the chat. */
  function openPeople(focusId) {
    var dialog = $("people-dialog");
    if (!wide.matches) {
      $("people-slot").appendChild($("side-inner"));
      if (!dialog.open) { dialog.showModal(); }
    }
    var target = $(focusId);
    if (target) { target.focus(); target.scrollIntoView({ block: "nearest" }); }
    renderSupports();
  }

  function closePeople() {
    var dialog = $("people-dialog");
    if (dialog.open) { dialog.close(); }
  }

  $("people-dialog").addEventListener("close", function () {
    $("side").appendChild($("side-inner"));
    if (!document.querySelector("dialog[open]") && !state.ended) { $("people-open").focus(); }
  });
  $("people-open").addEventListener("click", function () { openPeople("present-h"); });
  $("tools-open").addEventListener("click", function () { openPeople("host-h"); });
  $("people-close").addEventListener("click", closePeople);
  if (wide.addEventListener) {
    wide.addEventListener("change", function () { closePeople(); render(); });
  }

  /* --- the host's panel --------------------------------------------------------------- */

  function mayEnd() {
    if (!state.me || !state.isHost) { return false; }
    if (state.me.role === "facilitator") { return true; }
    /* A co-host may end the session while no facilitator is in the room (contract 5). */
    if (state.serverMayEnd === undefined) { return !!config.is_facilitator; }
    return !facilitatorPresent(null);
  }

  function renderHostPanel() {
    show($("host-panel"), state.isHost);
    if (!state.isHost) { return; }
    each(document.querySelectorAll("#host-panel [data-when]"), function (node) {
      node.hidden = node.getAttribute("data-when") !== state.status;
    });
    show($("end-session"), mayEnd() && state.status !== "ended" && state.status !== "scheduled");
    var round = state.round;
    show($("round-host"), !!round || state.status === "live");
    show($("round-form"), !round && state.status === "live");
    show($("round-steer"), !!round);
    if (!round) { return; }
    $("round-prompt-shown").textContent = interpolate(gettext("Round: %s"), [round.prompt]);
    var list = $("round-order");
    list.textContent = "";
    var words = { passed: gettext("passed"), done: gettext("done"), skipped: gettext("skipped") };
    round.order.forEach(function (memberId) {
      var outcome = round.outcomes[String(memberId)];
      var now = round.current === memberId;
      var item = el("li", now ? "now" : (outcome || "waiting"));
      item.setAttribute("data-member-id", memberId);
      item.appendChild(el("span", "name", nameOf(memberId)));
      item.appendChild(el("span", "meta", " – " + (now ? gettext("now") : (words[outcome] || gettext("waiting")))));
      list.appendChild(item);
    });
    var going = round.current !== null && round.current !== undefined;
    show($("round-skip"), going);
    show($("round-next"), going);
  }

  function hostAlert(text, link) {
    var item = el("li", "alert", text);
    if (link) { item.appendChild(document.createTextNode(" ")); item.appendChild(link); }
    $("alerts").appendChild(item);
    show($("alerts-wrap"), true);
    var card = el("li", "notice host-alert");
    card.appendChild(el("p", "notice-text", text));
    if (link) {
      var copy = el("a", null, link.textContent);
      copy.href = link.href;
      card.lastChild.appendChild(document.createTextNode(" "));
      card.lastChild.appendChild(copy);
    }
    card.appendChild(button(gettext("Hide alert"), "small secondary", function () {
      card.parentNode.removeChild(card);
      $("body").focus();
    }));
    $("notices").appendChild(card);
    announce(text, true);
    followIfNeeded();
  }

  each(document.querySelectorAll("#host-panel [data-status]"), function (node) {
    node.addEventListener("click", function () {
      send({ type: "session.set_status", status: node.getAttribute("data-status") });
    });
  });
  $("pause-form").addEventListener("submit", function (event) {
    event.preventDefault();
    send({ type: "session.set_status", status: "paused", note: $("pause-note").value });
  });
  $("round-form").addEventListener("submit", function (event) {
    event.preventDefault();
    send({ type: "round.start", prompt: $("round-prompt").value });
  });
  $("round-end").addEventListener("click", function () { send({ type: "round.end" }); });
  $("round-skip").addEventListener("click", function () { send({ type: "round.skip" }); });
  $("round-next").addEventListener("click", function () { send({ type: "round.next" }); });

  /* "End session" is a link to its confirmation page (issue 17): the page ends it through the
     server, and this room hears `session.status` "ended" like everyone else's. */

  /* --- messages ----------------------------------------------------------------------- */

  function systemLine(text) {
    var item = el("li", "system", text);
    $("messages").appendChild(item);
    if (state.backlogDone && !state.steppedOut) { announce(text); }
    followIfNeeded();
  }

  function receiveMessage(event) {
    var fresh = !state.messages[event.message_id];
    var message = state.messages[event.message_id] || { revealed: false };
    Object.assign(message, event);
    remember(event.author);
    state.messages[event.message_id] = message;
    var follow = state.follow;
    var item = renderMessage(message);
    var mine = event.author && isMe(event.author.member_id);
    if (mine && state.pending && state.pending.clientId === event.client_id) { pendingDone(); }
    if (!fresh || !state.backlogDone) { followIfNeeded(); return; }
    if (mine) { toBottom(); return; }
    if (state.steppedOut) { state.awayCount += 1; return; }
    announce(spoken(message), false, message.message_id);
    if (follow) { followIfNeeded(); } else { markUnread(item); }
  }

  function spoken(message) {
    var who = message.author ? message.author.display_name : gettext("A former member");
    if (message.hidden) { return interpolate(gettext("%s: a message a host removed."), [who]); }
    if (collapsedFor(message)) {
      return interpolate(gettext("%(name)s sent a message with a content warning: %(warning)s."), { name: who, warning: cwLabels[message.content_warning.category] || message.content_warning.category }, true);
    }
    return who + ": " + message.body;
  }

  function collapsedFor(message) {
    if (!message.content_warning) { return false; }
    if (message.author && isMe(message.author.member_id)) { return false; }
    return (config.preferences[message.content_warning.category] || "collapse") === "collapse";
  }

  function renderMessage(message) {
    var item = document.getElementById("m-" + message.message_id);
    var menuOpen = false;
    if (!item) {
      item = el("li", "message");
      item.id = "m-" + message.message_id;
      item.tabIndex = -1;
      $("messages").appendChild(item);
    } else {
      menuOpen = state.openMenu === message.message_id;
    }
    var hadFocus = item.contains(document.activeElement);
    var mine = message.author && isMe(message.author.member_id);
    item.className = "message" + (mine ? " mine" : "") + (message.hidden ? " was-hidden" : "");
    item.textContent = "";
    var head = el("div", "meta");
    var author = message.author ? message.author.display_name : gettext("A former member");
    head.appendChild(el("span", "author", author));
    if (mine) { head.appendChild(el("span", "you", gettext("(you)"))); }
    if (message.author && message.author.role !== "member") {
      head.appendChild(el("span", "tag role-" + message.author.role, roleLabel(message.author.role)));
    }
    var when = hhmm(message.sent_at);
    var time = el("time", null, when);
    time.setAttribute("datetime", message.sent_at);
    head.appendChild(time);
    var actions = menuItems(message);
    if (actions.length) {
      var toggle = el("button", "opts", gettext("Options"));
      toggle.type = "button";
      toggle.setAttribute("aria-label", interpolate(gettext("Options for %(name)s's message, %(time)s"), { name: author, time: when }, true));
      toggle.setAttribute("aria-expanded", menuOpen ? "true" : "false");
      toggle.setAttribute("aria-controls", "o-" + message.message_id);
      toggle.addEventListener("click", function () { toggleMenu(message.message_id); });
      head.appendChild(toggle);
    }
    item.appendChild(head);
    if (message.hidden) {
      item.appendChild(el("p", "hidden-note", gettext("This message was removed by a host.")));
    } else if (collapsedFor(message) && !message.revealed) {
      var cw = message.content_warning;
      var label = cwLabels[cw.category] || cw.category;
      var reveal = el("button", "cw-toggle", interpolate(gettext("Content warning: %(label)s. Show message"), { label: label + (cw.note ? " (" + cw.note + ")" : "") }, true));
      reveal.type = "button";
      reveal.setAttribute("aria-expanded", "false");
      reveal.addEventListener("click", function () { message.revealed = true; renderMessage(message); focusBody(message); });
      item.appendChild(reveal);
    } else {
      if (message.content_warning) {
        var tag = cwLabels[message.content_warning.category] || message.content_warning.category;
        item.appendChild(el("p", "cw-tag", interpolate(gettext("Content warning: %s"), [tag])));
      }
      var body = el("p", "body", message.body);
      body.tabIndex = -1;
      item.appendChild(body);
    }
    if (actions.length) {
      var menu = el("div", "menu");
      menu.id = "o-" + message.message_id;
      menu.hidden = !menuOpen;
      actions.forEach(function (action) { menu.appendChild(action); });
      item.appendChild(menu);
    }
    if (hadFocus && document.activeElement === document.body) {
      (item.querySelector(".opts") || item).focus({ preventScroll: true });
    }
    return item;
  }

  function focusBody(message) {
    var body = document.querySelector("#m-" + message.message_id + " .body");
    if (body) { body.focus(); }
  }

  /* One "Options" button per message; its actions open below it. */
  function menuItems(message) {
    var items = [];
    var author = message.author;
    var mine = author && isMe(author.member_id);
    var run = function (fn) { return function () { closeMenu(); fn(); }; };
    if (!mine) {
      items.push(button(gettext("Raise a concern about this message"), "small secondary", run(function () { openConcern(message); })));
    }
    if (!state.isHost) { return items; }
    if (!message.hidden) {
      items.push(button(message.content_warning ? gettext("Change the content warning") : gettext("Add a content warning"), "small secondary", run(function () { openModeration("warning", author, message); })));
      items.push(button(gettext("Hide this message"), "small secondary", run(function () { openModeration("hide", author, message); })));
    }
    if (author && !mine && author.role === "member") {
      var person = state.present[author.member_id];
      var name = author.display_name;
      if (person && person.muted_until && new Date(person.muted_until) > new Date()) {
        items.push(namedButton(gettext("Unmute"), name, "small secondary", run(function () { send({ type: "member.unmute", member_id: author.member_id }); })));
      } else {
        items.push(namedButton(gettext("Mute"), name, "small secondary", run(function () { openModeration("mute", author, message); })));
      }
      if (state.me && state.me.role === "facilitator" && !state.removed[author.member_id]) {
        items.push(namedButton(gettext("Remove"), name, "small danger", run(function () { openModeration("remove", author, message); })));
      }
    }
    return items;
  }

  function toggleMenu(messageId) {
    var open = state.openMenu === messageId;
    closeMenu();
    if (open) { return; }
    var menu = $("o-" + messageId);
    var toggle = document.querySelector("#m-" + messageId + " .opts");
    if (!menu || !toggle) { return; }
    state.openMenu = messageId;
    menu.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    menu.scrollIntoView({ block: "nearest" });
  }

  function closeMenu(returnFocus) {
    if (state.openMenu === null) { return; }
    var id = state.openMenu;
    state.openMenu = null;
    var menu = $("o-" + id);
    var toggle = document.querySelector("#m-" + id + " .opts");
    if (menu) { menu.hidden = true; }
    if (toggle) {
      toggle.setAttribute("aria-expanded", "false");
      if (returnFocus) { toggle.focus(); }
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && state.openMenu !== null) { closeMenu(true); }
  });
  document.addEventListener("click", function (event) {
    if (state.openMenu === null) { return; }
    var item = $("m-" + state.openMenu);
    if (item && !item.contains(event.target)) { closeMenu(false); }
  });

  /* --- private notices ---------------------------------------------------------------- */

  var ONLY_YOU = gettext("Only you can see this.");

  function addNotice(notice, live) {
    var id = notice.notice_id !== undefined && notice.notice_id !== null ? String(notice.notice_id) : "local-" + uuid();
    if (state.notices[id]) { return; }
    if (notice.code === "muted" && notice.until) {
      if (new Date(notice.until) <= new Date()) { return; }
      if (!state.mutedUntil || new Date(notice.until) > new Date(state.mutedUntil)) { state.mutedUntil = notice.until; }
    }
    if (notice.code === "unmuted") { dropNotices("muted"); }
    if (notice.code === "removed") { state.finalCode = state.finalCode || 4403; }
    state.notices[id] = notice;
    var card = el("li", "notice notice-" + notice.code);
    card.id = "n-" + id;
    var text = notice.message || "";
    card.appendChild(el("p", "notice-text", text));
    if (notice.code === "muted" && notice.until) {
      var until = el("p", "notice-until");
      until.setAttribute("data-until", notice.until);
      card.appendChild(until);
    }
    if (text.indexOf(ONLY_YOU) === -1) { card.appendChild(el("p", "notice-private", ONLY_YOU)); }
    card.appendChild(button(gettext("Hide notice"), "small secondary", function () {
      if (notice.notice_id !== undefined && notice.notice_id !== null) { send({ type: "notice.dismiss", notice_id: notice.notice_id }); }
      removeNotice(id);
      $("body").focus();
    }));
    $("notices").appendChild(card);
    if (live && !state.seenNotices[id]) {
      state.seenNotices[id] = true;
      announce(text);
    }
    render();
  }

  function removeNotice(id) {
    id = String(id);
    delete state.notices[id];
    var card = $("n-" + id);
    if (card) { card.parentNode.removeChild(card); }
    followIfNeeded();
  }

  function dropNotices(code) {
    Object.keys(state.notices).forEach(function (id) {
      if (state.notices[id].code === code) { removeNotice(id); }
    });
  }

  /* Mute countdowns: the card and the reason line count down, and clear themselves. */
  function renderCountdowns() {
    each(document.querySelectorAll("#notices [data-until]"), function (node) {
      var until = node.getAttribute("data-until");
      if (new Date(until) <= new Date()) {
        var card = node.closest(".notice");
        if (card) { removeNotice(card.id.slice(2)); }
        return;
      }
      node.textContent = interpolate(gettext("Ends at %(time)s (%(left)s)."), { time: hhmm(until), left: minutesLeft(until) }, true);
    });
  }

  var wasMuted = false;
  window.setInterval(function () {
    var now = muted();
    if (wasMuted && !now) {
      state.mutedUntil = null;
      dropNotices("muted");
      render();
      announce(gettext("You can write again."));
    } else if (now || document.querySelector("#notices [data-until]")) {
      renderComposer();
      renderCountdowns();
    }
    wasMuted = now;
    if (state.isHost) {
      Object.keys(state.present).forEach(function (key) {
        var p = state.present[key];
        if (p.muted_until && new Date(p.muted_until) <= new Date()) { p.muted_until = null; renderPresent(); }
      });
    }
  }, 1000);

  /* --- sending: what she typed stays in the box until the server has it ------------------ */

  function showSending(on) { show($("send-state"), on); }

  function boxError(text) {
    var line = $("box-error");
    line.textContent = text || "";
    show(line, !!text);
    if (text) { announce(text); }
  }

  function pendingDone() {
    var pending = state.pending;
    state.pending = null;
    showSending(false);
    var box = $("body");
    box.readOnly = false;
    if (box.value === pending.body) {
      box.value = "";
      $("cw").value = "";
      cwToggleLabel();
    }
    boxError("");
    toBottom();
  }

  var REFUSED = {
    muted: gettext("You are muted, so this was not sent."),
    session_paused: gettext("The room is paused, so this was not sent."),
    not_live: gettext("The session is not live yet, so this was not sent."),
    rate_limited: gettext("That was a lot of messages in a short time. Wait a few seconds, then send again."),
    too_long: gettext("This is too long. Make it shorter, then send again."),
    unavailable: gettext("This could not be saved just now. Please send again."),
    forbidden: gettext("You cannot write in this session.")
  };

  function refused(event) {
    state.pending = null;
    showSending(false);
    $("body").readOnly = false;
    var reason = REFUSED[event.code] || event.message || gettext("This was not sent.");
    boxError(reason + " " + gettext("Your message is still in the box."));
    if (event.code === "muted" && event.until) { state.mutedUntil = event.until; render(); }
  }

  function resendPending() {
    var pending = state.pending;
    if (!pending || $("body").value !== pending.body) { state.pending = null; showSending(false); return; }
    if (send(pending.payload)) { pending.sent = true; showSending(true); }
  }

  $("send-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var box = $("body");
    var body = box.value;
    if (state.pending) { return; }
    if (!body.trim()) { boxError(gettext("Write a message first.")); box.focus(); return; }
    var why = whyNot();
    if (why) {
      /* The reason is already on the line above the box: say it again, change nothing. */
      var line = $("why");
      line.classList.remove("again");
      void line.offsetWidth;
      line.classList.add("again");
      announce(why + " " + gettext("Your message is still in the box."));
      return;
    }
    var category = $("cw").value;
    var clientId = uuid();
    var payload = { type: "message.send", client_id: clientId, body: body, content_warning: category ? { category: category } : null };
    state.pending = { clientId: clientId, body: body, payload: payload, sent: false };
    boxError("");
    if (send(payload)) {
      state.pending.sent = true;
      box.readOnly = true;
      showSending(true);
    }
  });

  $("body").addEventListener("input", function () { if (!$("box-error").hidden) { boxError(""); } });

  /* Enter sends on a keyboard; on a touch screen Enter is a new line and Send sends. */
  $("body").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !touch) {
      event.preventDefault();
      $("send-form").requestSubmit();
    }
  });

  function cwToggleLabel() {
    var value = $("cw").value;
    $("cw-toggle").textContent = value ? interpolate(gettext("Content warning: %s"), [cwLabels[value] || value]) : gettext("Add a content warning");
  }
  $("cw-toggle").addEventListener("click", function () {
    var wrap = $("cw-wrap");
    var opening = wrap.hidden;
    show(wrap, opening);
    $("cw-toggle").setAttribute("aria-expanded", opening ? "true" : "false");
    if (opening) { $("cw").focus(); }
  });
  $("cw").addEventListener("change", cwToggleLabel);

  config.content_warnings.forEach(function (cw) {
    if (cw.retired) { return; }  // still labels old messages (cwLabels), never offered
    var option = el("option", null, cw.label);
    option.value = cw.key;
    $("cw").appendChild(option);
    var copy = el("option", null, cw.label);
    copy.value = cw.key;
    $("mod-cw").appendChild(copy);
  });

  /* --- her turn in a round: no reason is asked for passing --------------------------------- */

  function takeTurn(type) {
    if (send({ type: type })) { $("body").focus(); }
    else { feedback(gettext("You are offline, so this did not reach the room. We are reconnecting.")); }
  }
  $("turn-done").addEventListener("click", function () { takeTurn("round.done"); });
  $("turn-pass").addEventListener("click", function () { takeTurn("round.pass"); });

  /* --- support, stepping out ---------------------------------------------------------- */

  var KINDS = {
    minute: gettext("I need a minute"),
    message_me: gettext("Please message me privately"),
    not_safe: gettext("I’m not safe right now")
  };

  /* The organisation's urgent help (data-config urgent_help): shown at once, no network. */
  function urgentHelp() {
    var box = el("div", "urgent-box");
    box.appendChild(el("p", "urgent-title", gettext("If you are in danger now, get help straight away:")));
    var list = el("ul", "urgent-list");
    (config.urgent_help || []).forEach(function (entry) {
      var item = el("li");
      item.appendChild(el("span", null, entry.label + ": "));
      if (entry.href && /^(tel:|sms:|mailto:|https?:)/i.test(entry.href)) {
        var link = el("a", null, entry.contact);
        link.href = entry.href;
        item.appendChild(link);
      } else {
        item.appendChild(el("strong", null, entry.contact));
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function supportWords() {
    var queued = state.supportQueue;
    if (queued) {
      return queued.sent && state.online ? gettext("Sending your request…")
        : gettext("You are offline. Your request is waiting and will be sent when you are back online.");
    }
    var mine = state.support;
    if (!mine) { return ""; }
    var who = mine.by ? mine.by.display_name : gettext("A host");
    var sent = interpolate(gettext("Sent %s."), [hhmm(mine.at)]);
    if (mine.status === "taken") { return interpolate(gettext("%s is with you."), [who]); }
    if (mine.status === "seen") { return sent + " " + interpolate(gettext("%s has seen it."), [who]); }
    if (mine.status === "closed") { return sent + " " + interpolate(gettext("%s has closed it. You can ask again at any time."), [who]); }
    if (!mine.hosts_told) { return sent + " " + gettext("No host is in the room right now. We kept your request for the facilitators."); }
    return sent + " " + gettext("A host has been told.");
  }

  var lastSupportWords = "";
  function renderSupport(speak) {
    var words = supportWords();
    var box = $("support-status");
    $("support-text").textContent = words;
    var help = $("support-help");
    help.textContent = "";
    var mine = state.support;
    var queued = state.supportQueue;
    var urgent = (queued && queued.kind === "not_safe") ||
      (!queued && mine && mine.status !== "closed" && mine.status !== "taken" && (mine.kind === "not_safe" || !mine.hosts_told));
    if (urgent && words) { help.appendChild(urgentHelp()); }
    show(box, !!words && !state.ended);
    if (speak && words && words !== lastSupportWords) { announce(words); }
    lastSupportWords = words;
    followIfNeeded();
  }

  function supportSay(text) {
    $("support-text").textContent = text;
    $("support-help").textContent = "";
    show($("support-status"), true);
    announce(text);
  }

  function flushSupport() {
    var queued = state.supportQueue;
    if (queued && !queued.sent && state.online && send(queued.payload)) { queued.sent = true; renderSupport(false); }
  }

  function supportKind() {
    var checked = document.querySelector('input[name="support-kind"]:checked');
    return checked ? checked.value : "minute";
  }

  function openSupport() {
    $("support-note").value = "";
    document.querySelector('input[name="support-kind"][value="minute"]').checked = true;
    showUrgentInSheet();
    $("support-dialog").showModal();
    document.querySelector('input[name="support-kind"]:checked').focus();
  }

  function showUrgentInSheet() {
    var box = $("support-urgent");
    box.textContent = "";
    var unsafe = supportKind() === "not_safe";
    if (unsafe) { box.appendChild(urgentHelp()); }
    show(box, unsafe);
  }

  $("support").addEventListener("click", openSupport);
  $("away-support").addEventListener("click", openSupport);
  each(document.querySelectorAll('input[name="support-kind"]'), function (radio) {
    radio.addEventListener("change", showUrgentInSheet);
  });
  $("support-cancel").addEventListener("click", function () { $("support-dialog").close(); });
  $("support-dialog").addEventListener("close", function () {
    if (!state.ended) { (state.steppedOut ? $("away-support") : $("support")).focus(); }
  });
  $("support-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var kind = supportKind();
    var clientId = uuid();
    var payload = { type: "support.request", client_id: clientId, kind: kind };
    var note = $("support-note").value.trim();
    if (note) { payload.note = note; }
    state.supportQueue = { clientId: clientId, kind: kind, payload: payload, sent: false };
    $("support-dialog").close();
    if (state.online && send(payload)) { state.supportQueue.sent = true; }
    renderSupport(true);
  });

  /* --- the hosts: support requests stay pinned until taken or closed -------------------------- */

  function supportLine(r) {
    if (r.kind === "left_quickly") { return interpolate(gettext("%s left quickly."), [r.display_name]); }
    return interpolate(gettext("%(name)s asked for support: “%(option)s”"), { name: r.display_name, option: KINDS[r.kind] || KINDS.minute }, true);
  }

  function panelShown() {
    return state.isHost && (wide.matches || $("people-dialog").open) && document.visibilityState === "visible";
  }

  function renderSupports() {
    var list = $("sup-list");
    var rows = Object.keys(state.supports).map(function (key) { return state.supports[key]; });
    rows.sort(function (a, b) { return a.at < b.at ? -1 : 1; });
    var key = focusKey(list);
    list.textContent = "";
    var waiting = 0;
    rows.forEach(function (r) {
      var taken = r.status === "taken";
      if (!taken) { waiting += 1; }
      var item = el("li", "sup" + (taken ? " taken" : "") + (r.kind === "not_safe" ? " unsafe" : ""));
      item.setAttribute("data-request-id", r.request_id);
      var head = el("p", "sup-head");
      var time = el("time", null, hhmm(r.at));
      time.setAttribute("datetime", r.at);
      head.appendChild(time);
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", null, supportLine(r)));
      item.appendChild(head);
      if (r.note) { item.appendChild(el("p", "sup-note", r.note)); }
      var by = r.by ? (isMe(r.by.member_id) ? gettext("you") : r.by.display_name) : "";
      if (taken) { item.appendChild(el("p", "meta", interpolate(gettext("Taken by %s."), [by]))); }
      else if (r.status === "seen" && by) { item.appendChild(el("p", "meta", interpolate(gettext("Seen by %s."), [by]))); }
      var row = el("div", "row");
      var who = r.display_name;
      if (!taken) {
        var take = namedButton(gettext("I’ll take this"), who, "small secondary", function () {
          send({ type: "support.take", request_id: r.request_id });
          if (r.kind !== "left_quickly") { openThread(r.member_id, who); }
        });
        take.setAttribute("data-key", "take-" + r.request_id);
        row.appendChild(take);
      }
      var close = namedButton(gettext("Close"), interpolate(gettext("the request from %s"), [who]), "small secondary", function () {
        send({ type: "support.close", request_id: r.request_id });
      });
      close.setAttribute("data-key", "close-" + r.request_id);
      row.appendChild(close);
      if (taken && r.kind !== "left_quickly") {
        row.appendChild(namedButton(gettext("Reply privately"), who, "small secondary", function () { openThread(r.member_id, who); }));
      }
      item.appendChild(row);
      list.appendChild(item);
      if (r.status === "sent" && !state.seenSent[r.request_id] && panelShown()) {
        state.seenSent[r.request_id] = true;
        send({ type: "support.seen", request_id: r.request_id });
      }
    });
    refocus(list, key);
    show($("sup-wrap"), state.isHost && rows.length > 0);
    $("sup-count").textContent = waiting ? interpolate(ngettext("%s waiting", "%s waiting", waiting), [waiting]) : "";
    show($("sup-count"), waiting > 0);
    var badge = $("tools-badge");
    badge.textContent = waiting ? String(waiting) : "";
    if (waiting) { badge.appendChild(el("span", "visually-hidden", " " + ngettext("asking for support", "asking for support", waiting))); }
    show(badge, state.isHost && waiting > 0);
  }
  document.addEventListener("visibilitychange", function () { if (state.isHost) { renderSupports(); } });
  /* --- a private word: her thread with the hosts (never the room) ------------------------------ */

  function thread(memberId) {
    if (!state.threads[memberId]) { state.threads[memberId] = { messages: [], name: nameOf(memberId) }; }
    return state.threads[memberId];
  }

  function privateItem(message) {
    var item = el("li", "pm" + (message.author && isMe(message.author.member_id) ? " mine" : ""));
    var head = el("p", "meta");
    var who = message.author ? (isMe(message.author.member_id) ? gettext("You") : message.author.display_name) : gettext("A former member");
    head.appendChild(el("span", "author", who));
    if (message.author && message.author.role && message.author.role !== "member") {
      head.appendChild(el("span", "tag role-" + message.author.role, roleLabel(message.author.role)));
    }
    var time = el("time", null, hhmm(message.sent_at));
    time.setAttribute("datetime", message.sent_at);
    head.appendChild(time);
    item.appendChild(head);
    item.appendChild(el("p", "body", message.body === null ? gettext("This message is no longer kept.") : message.body));
    return item;
  }

  function drawThread(list, memberId) {
    list.textContent = "";
    var messages = thread(memberId).messages;
    if (!messages.length) { list.appendChild(el("li", "hint", gettext("No messages yet."))); }
    messages.forEach(function (m) { list.appendChild(privateItem(m)); });
  }

  function receivePrivate(event) {
    if (state.privateSeen[event.message_id]) { return; }
    state.privateSeen[event.message_id] = true;
    var box = thread(event.thread_member_id);
    box.messages.push(event);
    box.messages.sort(function (a, b) { return a.sent_at < b.sent_at ? -1 : (a.sent_at > b.sent_at ? 1 : a.message_id - b.message_id); });
    var mine = event.author && isMe(event.author.member_id);
    var fromHer = event.author && event.author.member_id === event.thread_member_id;
    var pending = state.privatePending;
    if (mine && pending && pending.clientId === event.client_id) { privateDone(); }
    if (state.isHost && !isMe(event.thread_member_id)) {
      if (fromHer) { remember(event.author); box.name = event.author.display_name; }
      else if (box.name === gettext("Someone")) { box.name = nameOf(event.thread_member_id); }
      hostThread(event.thread_member_id, box.name);
      if (!mine && fromHer && state.backlogDone) {
        hostAlert(interpolate(gettext("%s wrote to the hosts privately."), [event.author.display_name]));
      }
      return;
    }
    state.privateOpened = true;
    drawThread($("private-list"), event.thread_member_id);
    if (!mine && !$("private-dialog").open && state.backlogDone) {
      state.privateUnread += 1;
      announce(interpolate(gettext("%s wrote to you privately."), [event.author ? event.author.display_name : gettext("A host")]), true);
    }
    renderPrivateButton();
    if ($("private-dialog").open) { $("private-list").lastChild.scrollIntoView({ block: "nearest" }); }
  }

  function renderPrivateButton() {
    var offer = !state.isHost && !state.ended && !state.finalCode &&
      (state.privateOpened || !!(state.support && state.support.kind === "message_me"));
    show($("private-open"), offer);
    var badge = $("private-badge");
    badge.textContent = state.privateUnread ? String(state.privateUnread) : "";
    if (state.privateUnread) { badge.appendChild(el("span", "visually-hidden", " " + ngettext("new message", "new messages", state.privateUnread))); }
    show(badge, state.privateUnread > 0);
  }

  function openPrivate() {
    state.privateUnread = 0;
    state.privateOpened = true;
    renderPrivateButton();
    if (state.me) { drawThread($("private-list"), state.me.member_id); }
    var dialog = $("private-dialog");
    if (!dialog.open) { dialog.showModal(); }
    $("private-body").focus();
    var last = $("private-list").lastChild;
    if (last) { last.scrollIntoView({ block: "nearest" }); }
  }
  $("private-open").addEventListener("click", openPrivate);
  $("private-close").addEventListener("click", function () { $("private-dialog").close(); });
  $("private-dialog").addEventListener("close", function () {
    if (!state.ended && !$("private-open").hidden) { $("private-open").focus(); }
  });

  function privateError(memberId, text) {
    var line = memberId !== undefined ? $("pe-" + memberId) : $("private-error");
    if (!line) { return; }
    line.textContent = text || "";
    show(line, !!text);
    if (text) { announce(text); }
  }

  function privateDone() {
    var pending = state.privatePending;
    state.privatePending = null;
    var box = $(pending.boxId);
    if (box) { box.readOnly = false; if (box.value === pending.body) { box.value = ""; } }
    privateError(pending.memberId, "");
  }

  function privateRefused(event) {
    var pending = state.privatePending;
    state.privatePending = null;
    var box = $(pending.boxId);
    if (box) { box.readOnly = false; }
    var reason = event.code === "rate_limited" ? REFUSED.rate_limited : (event.message || gettext("This was not sent."));
    privateError(pending.memberId, reason + " " + gettext("Your message is still in the box."));
  }

  function sendPrivate(boxId, memberId) {
    var box = $(boxId);
    var body = box.value;
    if (state.privatePending) { return; }
    if (!body.trim()) { privateError(memberId, gettext("Write a message first.")); box.focus(); return; }
    var clientId = uuid();
    var payload = { type: "private.send", client_id: clientId, body: body };
    if (memberId !== undefined) { payload.member_id = memberId; }
    if (!state.online || !send(payload)) {
      privateError(memberId, gettext("You are offline, so this was not sent. Your message is still in the box."));
      return;
    }
    state.privatePending = { clientId: clientId, body: body, boxId: boxId, memberId: memberId };
    box.readOnly = true;
    privateError(memberId, "");
  }

  $("private-form").addEventListener("submit", function (event) {
    event.preventDefault();
    sendPrivate("private-body", undefined);
  });

  /* Hosts: one block per thread in their panel, made once (what a host typed is never redrawn). */
  function hostThread(memberId, name) {
    var block = $("th-" + memberId);
    if (!block) {
      block = el("section", "thread");
      block.id = "th-" + memberId;
      block.setAttribute("aria-labelledby", "thh-" + memberId);
      var title = el("h4");
      title.id = "thh-" + memberId;
      block.appendChild(title);
      var list = el("ol", "private-list");
      list.id = "tl-" + memberId;
      block.appendChild(list);
      var form = el("form", "stack");
      form.noValidate = true;
      var label = el("label");
      label.id = "tlb-" + memberId;
      label.htmlFor = "tb-" + memberId;
      form.appendChild(label);
      var area = el("textarea");
      area.id = "tb-" + memberId;
      area.rows = 2;
      area.maxLength = 2000;
      area.setAttribute("aria-describedby", "pe-" + memberId);
      form.appendChild(area);
      var error = el("p", "box-error");
      error.id = "pe-" + memberId;
      error.hidden = true;
      form.appendChild(error);
      var go = el("button", "small primary", gettext("Send privately"));
      go.type = "submit";
      var hiddenName = el("span", "visually-hidden");
      hiddenName.id = "tbs-" + memberId;
      go.appendChild(hiddenName);
      form.appendChild(go);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        sendPrivate("tb-" + memberId, memberId);
      });
      block.appendChild(form);
      $("threads").appendChild(block);
    }
    if (block.getAttribute("data-name") !== name) {
      block.setAttribute("data-name", name);
      $("thh-" + memberId).textContent = interpolate(gettext("With %s"), [name]);
      $("tlb-" + memberId).textContent = interpolate(gettext("Reply privately to %s"), [name]);
      $("tbs-" + memberId).textContent = " " + interpolate(gettext("to %s"), [name]);
    }
    drawThread($("tl-" + memberId), memberId);
    show($("threads-wrap"), true);
    return block;
  }

  function openThread(memberId, name) {
    thread(memberId).name = name;
    hostThread(memberId, name);
    openPeople("tb-" + memberId);
  }

  $("step-out").addEventListener("click", function () {
    var items = document.querySelectorAll("#messages li.message");
    state.leftAt = items.length ? items[items.length - 1].id : null;
    state.awayCount = 0;
    state.steppedOut = true;
    clearUnread();
    send({ type: "presence.set", status: "stepped_out" });
    root.classList.add("is-away");
    show($("room-grid"), false);
    show($("away"), true);
    render();
    $("away-h").focus();
  });

  $("back").addEventListener("click", function () {
    state.steppedOut = false;
    send({ type: "presence.set", status: "here" });
    root.classList.remove("is-away");
    show($("away"), false);
    show($("room-grid"), true);
    render();
    var missed = state.awayCount;
    state.awayCount = 0;
    var from = state.leftAt ? $(state.leftAt) : null;
    var first = from ? nextMessage(from) : document.querySelector("#messages li.message");
    if (missed > 0 && first) {
      state.unread = 0;
      markUnread(first);
      state.unread = missed;
      var jump = $("jump");
      jump.textContent = interpolate(ngettext("Catch up: %s new message", "Catch up: %s new messages", missed), [missed]);
      state.follow = false;
      if (from) { from.scrollIntoView({ block: "end" }); }
      jump.focus();
    } else {
      toBottom();
      $("body").focus();
    }
  });

  function nextMessage(node) {
    var next = node.nextElementSibling;
    while (next && !next.classList.contains("message")) { next = next.nextElementSibling; }
    return next;
  }

  /* --- the end ------------------------------------------------------------------------ */

  function showEnd(next, live) {
    state.ended = true;
    state.status = "ended";
    each(document.querySelectorAll("dialog[open]"), function (dialog) { dialog.close(); });
    root.classList.add("is-ended");
    show($("room-grid"), false);
    show($("away"), false);
    show($("leaving"), false);
    $("leaving-checkout").textContent = "";
    checkoutInto($("end-checkout"));
    show($("people-open"), false);
    show($("tools-open"), false);
    show($("skip-box"), false);
    var line = $("end-next");
    if (next) {
      line.textContent = interpolate(gettext("The next session is “%(title)s”, on %(date)s."), { title: next.title, date: longDate(next.starts_at) }, true);
    } else {
      line.textContent = gettext("The next sessions are on the group page.");
    }
    show($("end-summary"), !!config.summary_url);
    show($("end"), true);
    render();
    if (live) { $("end-h").focus(); announce(gettext("The session has ended. Thank you for being here.")); }
    if (state.socket && state.socket.readyState <= WebSocket.OPEN) { state.socket.close(1000); }
  }

  /* --- concerns --------------------------------------------------------------------- */

  var categorySelect = $("concern-category");
  config.categories.forEach(function (category) {
    // "How the group is run" is the safeguarding lead's alone (safeguarding/policies.py
    // LEADS_ONLY): "Who should it go to?" offers it, and the server sets the category.
    if (category.key === "facilitation") { return; }
    var option = el("option", null, category.label);
    option.value = category.key;
    categorySelect.appendChild(option);
  });

  function openConcern(message) {
    state.selectedMessage = message || null;
    var who = message ? (message.author ? message.author.display_name : gettext("a former member")) : "";
    $("concern-message").textContent = message ? interpolate(gettext("About the message from %s."), [who]) : "";
    show($("concern-message"), !!message);
    show($("concern-error"), false);
    categorySelect.value = message ? "about_member" : "my_wellbeing";
    $("concern-to-group").checked = true;
    $("concern-dialog").showModal();
    $("concern-body").focus();
  }

  /* An answer to a concern she raised waits unread (issue 17): the dot the pages draw on
     Concerns and on "Raise a concern", added once, live. The event carries no text. */
  function concernDot() {
    ["nav-concerns", "concern-open"].forEach(function (id) {
      var node = $(id);
      if (!node || node.querySelector(".nav-dot")) { return; }
      var dot = el("span", "nav-dot");
      dot.setAttribute("aria-hidden", "true");
      node.appendChild(dot);
      node.appendChild(el("span", "visually-hidden", " " + gettext("(new answer)")));
    });
  }

  $("concern-open").addEventListener("click", function () { openConcern(null); });
  $("concern-cancel").addEventListener("click", function () { $("concern-dialog").close(); });
  $("concern-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var message = state.selectedMessage;
    var error = $("concern-error");
    if (!$("concern-body").value.trim()) {
      error.textContent = gettext("Write what happened first.");
      show(error, true);
      $("concern-body").focus();
      return;
    }
    var payload = {
      group_id: config.group_id,
      category: categorySelect.value,
      body: $("concern-body").value,
      urgency: $("concern-urgency").value,
      share_with_peer_mentors: $("concern-share").checked,
      message_ids: message ? [message.message_id] : [],
      to_lead: $("concern-to-lead").checked
    };
    if (message && message.author && payload.category === "about_member") {
      payload.about_member_id = message.author.member_id;
    }
    fetch("/api/v1/concerns/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload)
    }).then(function (response) {
      if (response.ok) {
        $("concern-dialog").close();
        $("concern-body").value = "";
        feedback(payload.to_lead
          ? gettext("Thank you. Only the safeguarding lead can see it. You will find the answer under Concerns.")
          : gettext("Thank you. Only the facilitators can see it. You will find their answer under Concerns."));
      } else {
        return response.json().then(function (body) {
          error.textContent = body.message || gettext("That did not work. Please try again.");
          show(error, true);
        });
      }
    }).catch(function () {
      error.textContent = gettext("That did not work. Please try again.");
      show(error, true);
    });
  });

  /* --- moderation dialogs: focus on the first field, never on "Leave now" -------------- */

  var modCw = $("mod-cw");

  function openModeration(kind, person, message) {
    closePeople();
    state.moderation = { kind: kind, person: person, message: message };
    var name = person ? person.display_name : gettext("a former member");
    var titles = {
      warning: gettext("Add a content warning"),
      hide: gettext("Hide this message"),
      mute: interpolate(gettext("Mute %s"), [name]),
      remove: interpolate(gettext("Remove %s from this session"), [name])
    };
    var explain = {
      warning: gettext("The message folds away behind the warning for everyone who chose that."),
      hide: gettext("The message is removed for everyone. Only its author sees why."),
      mute: interpolate(gettext("%s can read but not write until the time is up. Nobody else sees her name or your reason."), [name]),
      remove: interpolate(gettext("%s leaves this session now and cannot come back into it."), [name])
    };
    var oks = {
      warning: gettext("Add the warning"),
      hide: gettext("Hide the message"),
      mute: interpolate(gettext("Mute %s"), [name]),
      remove: interpolate(gettext("Remove %s"), [name])
    };
    $("mod-h").textContent = titles[kind];
    $("mod-what").textContent = explain[kind];
    $("mod-ok").textContent = oks[kind];
    $("mod-ok").className = kind === "remove" ? "danger" : "primary";
    show($("mod-minutes-wrap"), kind === "mute");
    show($("mod-tell-wrap"), kind === "mute");
    show($("mod-cw-wrap"), kind === "warning");
    $("mod-reason-label").textContent = kind === "warning"
      ? interpolate(gettext("Tell %s why (optional, only she sees it)"), [name])
      : interpolate(gettext("Why? Only %s sees this."), [name]);
    show($("mod-reason-wrap"), kind !== "warning" || !!person);
    $("mod-reason").value = "";
    $("mod-tell").checked = false;
    $("mod-minutes").value = "10";
    show($("mod-error"), false);
    if (kind === "warning" && message && message.content_warning) { modCw.value = message.content_warning.category; }
    $("mod-dialog").showModal();
    (kind === "warning" ? modCw : $("mod-reason")).focus();
  }

  $("mod-cancel").addEventListener("click", function () { $("mod-dialog").close(); });
  $("mod-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var action = state.moderation;
    if (!action) { return; }
    var reason = $("mod-reason").value.trim();
    var error = $("mod-error");
    if (action.kind !== "warning" && !reason) {
      error.textContent = gettext("Give a short reason. Only she will see it.");
      show(error, true);
      $("mod-reason").focus();
      return;
    }
    var minutes = parseInt($("mod-minutes").value, 10);
    if (action.kind === "mute" && !(minutes >= 1 && minutes <= 120)) {
      error.textContent = gettext("Choose between 1 and 120 minutes.");
      show(error, true);
      $("mod-minutes").focus();
      return;
    }
    var message = action.message;
    var person = action.person;
    if (action.kind === "warning") {
      var frame = { type: "message.set_warning", message_id: message.message_id, content_warning: { category: modCw.value } };
      if (reason) { frame.reason = reason; }
      send(frame);
    } else if (action.kind === "hide") {
      send({ type: "message.hide", message_id: message.message_id, reason: reason });
    } else if (action.kind === "mute") {
      send({ type: "member.mute", member_id: person.member_id, minutes: minutes, reason: reason, tell_room: $("mod-tell").checked });
    } else if (action.kind === "remove") {
      send({ type: "member.remove", member_id: person.member_id, reason: reason });
    }
    $("mod-dialog").close();
  });

  /* --- check-in and check-out: private, skippable, asked once ------------------------------ */

  var MOODS = [
    ["struggling", gettext("Struggling")], ["low", pgettext("mood", "Low")], ["okay", gettext("Okay")], ["good", gettext("Good")], ["strong", gettext("Strong")]
  ];
  var moodLabel = {};
  MOODS.forEach(function (m) { moodLabel[m[0]] = m[1]; });

  /* Answered or skipped: either way she is not asked again in this session. */
  function answered(moment) {
    if ((config.checkins_done || []).indexOf(moment) >= 0) { return true; }
    if (!state.me) { return false; }
    return (state.me.checkins || []).indexOf(moment) >= 0 || (state.me.checkins_skipped || []).indexOf(moment) >= 0;
  }

  function skipped(moment) {
    if (!state.me) { return; }
    state.me.checkins_skipped = state.me.checkins_skipped || [];
    if (state.me.checkins_skipped.indexOf(moment) < 0) { state.me.checkins_skipped.push(moment); }
  }

  /* One form for both moments; `done(text)` replaces it with her thank-you. */
  function checkinForm(moment, submit, skip) {
    var form = el("form", "checkin-form");
    form.noValidate = true;
    var set = el("fieldset", "moods");
    set.appendChild(el("legend", null, moment === "in" ? gettext("How are you arriving?") : gettext("How are you leaving?")));
    set.appendChild(el("p", "hint", gettext("Only the hosts see your answer. You can skip this.")));
    var row = el("div", "mood-row");
    MOODS.forEach(function (m) {
      var label = el("label", "mood");
      var radio = el("input");
      radio.type = "radio";
      radio.name = "mood-" + moment;
      radio.value = m[0];
      radio.id = "mood-" + moment + "-" + m[0];
      label.appendChild(radio);
      label.appendChild(el("span", null, m[1]));
      row.appendChild(label);
    });
    set.appendChild(row);
    form.appendChild(set);
    var more = el("div", "stack checkin-more");
    more.hidden = true;
    var noteLabel = el("label", null, gettext("A few words (you can leave this empty)"));
    noteLabel.htmlFor = "checkin-note-" + moment;
    var note = el("textarea");
    note.id = "checkin-note-" + moment;
    note.rows = 2;
    note.maxLength = 500;
    more.appendChild(noteLabel);
    more.appendChild(note);
    var share = el("label", "check");
    var box = el("input");
    box.type = "checkbox";
    box.id = "checkin-share-" + moment;
    share.appendChild(box);
    share.appendChild(document.createTextNode(" " + gettext("Share my note with the peer mentors")));
    more.appendChild(share);
    form.appendChild(more);
    var error = el("p", "box-error");
    error.hidden = true;
    error.id = "checkin-error-" + moment;
    form.appendChild(error);
    var buttons = el("div", "row");
    var go = el("button", "small secondary", gettext("Send"));
    go.type = "submit";
    go.hidden = true;
    go.appendChild(el("span", "visually-hidden", " " + (moment === "in" ? gettext("how you are arriving") : gettext("how you are leaving"))));
    buttons.appendChild(go);
    buttons.appendChild(namedButton(gettext("Skip"), moment === "in" ? gettext("the check-in") : gettext("the check-out"), "small secondary", skip));
    form.appendChild(buttons);
    row.addEventListener("change", function () { more.hidden = false; go.hidden = false; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) { return; }
      var answer = { moment: moment, mood: chosen.value, share_note_with_peer_mentors: box.checked };
      if (note.value.trim()) { answer.note = note.value.trim(); }
      submit(answer, function (text) {
        error.textContent = text;
        show(error, !!text);
        if (text) { announce(text); }
      });
    });
    return form;
  }

  function thanks(moment, mood) {
    return interpolate(moment === "in" ? gettext("Thank you. You are arriving: %s. Only the hosts see this.") : gettext("Thank you. You are leaving: %s. Only the hosts see this."), [moodLabel[mood] || mood]);
  }

  function askCheckin() {
    if (state.isHost || answered("in") || state.askedIn || state.ended) { return; }
    if (state.status !== "live" && state.status !== "paused") { return; }
    state.askedIn = true;
    var card = el("li", "checkin");
    card.id = "checkin";
    card.appendChild(checkinForm("in", function (answer, error) {
      var frame = { type: "checkin.set" };
      Object.keys(answer).forEach(function (k) { frame[k] = answer[k]; });
      if (!send(frame)) { error(gettext("You are offline, so this was not sent. We are reconnecting.")); return; }
      state.checkinError = error;
    }, function () {
      skipped("in");
      send({ type: "checkin.skip", moment: "in" });
      card.parentNode.removeChild(card);
      $("body").focus();
    }));
    $("messages").appendChild(card);
  }

  function checkinSaved(event) {
    if (state.me) {
      state.me.checkins = state.me.checkins || [];
      if (state.me.checkins.indexOf(event.moment) < 0) { state.me.checkins.push(event.moment); }
    }
    var card = $("checkin");
    if (event.moment === "in" && card) {
      var focused = card.contains(document.activeElement);
      card.textContent = "";
      card.className = "system checkin-done";
      card.appendChild(el("p", null, thanks("in", event.mood)));
      announce(thanks("in", event.mood));
      if (focused) { $("body").focus(); }
    }
  }

  /* Leaving (or the end): over REST, which also takes it after the session has ended. */
  function checkoutInto(slot, onDone) {
    slot.textContent = "";
    if (state.isHost || answered("out") || config.is_facilitator || (!state.me && !config.attended)) { return false; }
    var form = checkinForm("out", function (answer, error) {
      fetch("/api/v1/sessions/" + config.session_id + "/checkins/", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(answer)
      }).then(function (response) {
        if (response.ok || response.status === 409) {
          return response.json().then(function (body) {
            if (response.status === 409 && body.code !== "already_answered") { error(body.message || gettext("That did not work. Please try again.")); return; }
            if (state.me) { state.me.checkins = (state.me.checkins || []).concat(["out"]); }
            slot.textContent = "";
            var line = el("p", "checkin-done", response.ok ? thanks("out", answer.mood) : gettext("You already told us how you are leaving. Thank you."));
            line.tabIndex = -1;
            slot.appendChild(line);
            line.focus();
            announce(line.textContent);
            if (onDone) { onDone(); }
          });
        }
        error(gettext("That did not work. Please try again."));
      }).catch(function () { error(gettext("That did not work. Please try again.")); });
    }, function () {
      skipped("out");
      fetch("/api/v1/sessions/" + config.session_id + "/checkins/skip/", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ moment: "out" }),
        keepalive: true
      }).catch(function () { /* offline: she may be asked once more next time */ });
      slot.textContent = "";
      if (onDone) { onDone(true); }
    });
    slot.appendChild(form);
    return true;
  }

  function renderCheckins() {
    var list = $("checkins");
    list.textContent = "";
    var shown = 0;
    (state.checkins || []).forEach(function (c) {
      if (!state.present[c.member_id]) { return; }
      shown += 1;
      var item = el("li", "checkin-row mood-" + c.mood);
      var words = interpolate(c.moment === "in" ? gettext("%(name)s arrived: %(mood)s") : gettext("%(name)s is leaving: %(mood)s"), { name: c.display_name, mood: moodLabel[c.mood] || c.mood }, true);
      item.appendChild(el("span", null, words));
      if (c.note) { item.appendChild(el("span", "sup-note", " \u2013 " + c.note)); }
      list.appendChild(item);
    });
    show($("checkins-wrap"), state.isHost && shown > 0);
  }

  each(document.querySelectorAll(".leave-room a"), function (link) {
    link.addEventListener("click", function (event) {
      if (state.isHost || state.ended || !state.online || answered("out")) { return; }
      event.preventDefault();
      closePeople();
      show($("room-grid"), false);
      show($("leaving"), true);
      checkoutInto($("leaving-checkout"), function (skipped) {
        if (skipped) { window.location.replace($("leaving-link").href); return; }
        $("leaving-link").focus();
      });
      $("leaving-h").focus();
    });
  });
  $("leaving-back").addEventListener("click", function () {
    show($("leaving"), false);
    show($("room-grid"), true);
    render();
    $("body").focus();
  });

  /* --- start ------------------------------------------------------------------------- */

  /* The skip link to the message box comes first on the page, before the site's own links. */
  document.body.insertBefore($("skip-box"), document.body.firstChild);
  $("skip-box").addEventListener("click", function (event) {
    event.preventDefault();
    toBottom();
    $("body").focus();
  });

  (config.notices || []).forEach(function (notice) { addNotice(notice, false); });
  if (config.ended) {
    showEnd(config.next_session || null, false);
  } else {
    render();
    connect();
  }
})();

/* The live room client. Speaks PROTOCOL.md over one WebSocket; reconnects with backoff and
 * resumes from the last seq it applied, so nothing is shown twice or lost. Message text is
 * only ever set as textContent, never as HTML. Nothing is kept in browser storage. */
(function () {
  "use strict";

  var root = document.getElementById("room");
  if (!root) { return; }
  var config = JSON.parse(root.getAttribute("data-config"));
  /* Strings go through Django's JavaScript catalogue (/jsi18n/) so they can be translated. */
  var t = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };
  var fill = typeof window.interpolate === "function" ? window.interpolate : function (text, args) {
    var index = 0;
    return text.replace(/%s/g, function () { return String(args[index++]); });
  };
  var $ = function (id) { return document.getElementById(id); };

  var cwLabels = {};
  config.content_warnings.forEach(function (cw) { cwLabels[cw.key] = cw.label; });

  var state = {
    socket: null,
    lastSeq: 0,
    resuming: false,
    me: null,
    isHost: false,
    status: null,
    present: {},
    messages: {},
    round: null,
    mutedUntil: null,
    steppedOut: false,
    attempts: 0,
    closedForGood: false,
    historyHidden: false,
    selectedMessage: null,
    moderation: null
  };

  var FINAL = {
    4401: t("You are signed out. Please sign in again."),
    4403: t("You can no longer take part in this session."),
    4404: t("This session cannot be found."),
    4409: t("Please accept the group's current agreement first, on the group page."),
    4410: t("This session is not open."),
    4429: t("This session is open on too many of your tabs or devices. Close one, then reload this page.")
  };

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

  function say(text) { $("connection").textContent = text; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function send(payload) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(payload));
      return true;
    }
    return false;
  }

  function resume() {
    if (state.resuming) { return; }
    state.resuming = true;
    send({ type: "resume", after_seq: state.lastSeq });
  }

  /* --- connection ------------------------------------------------------------------- */

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/sessions/" + config.session_id + "/");
    state.socket = socket;
    state.resuming = false;
    socket.onopen = function () {
      /* Back after a drop: ask for what was missed at once. The server answers right after
         session.state, so little reaches this page twice (and handle() ignores what does). */
      if (state.lastSeq > 0) { resume(); }
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (ignored) { return; }
      handle(data);
    };
    socket.onclose = function (event) {
      if (state.socket !== socket) { return; }
      root.classList.add("offline");
      if (FINAL[event.code]) {
        state.closedForGood = true;
        say(FINAL[event.code]);
        $("send").disabled = true;
        return;
      }
      var delay = Math.min(15000, 1000 * Math.pow(2, state.attempts));
      state.attempts += 1;
      say(t("Reconnecting… your messages are safe."));
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
        var line = el("li", "system", t("Earlier messages are not shown."));
        $("messages").insertBefore(line, $("messages").firstChild);
      }
      return;
    }
    if (event.seq !== undefined && event.type !== "ack") {
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
      root.classList.remove("offline");
      say(t("Connected."));
      state.me = event.me;
      state.isHost = !!event.me.is_host;
      state.mutedUntil = event.me.muted_until;
      $("room-title").textContent = event.session.title;
      setStatus(event.session.status, null);
      state.present = {};
      event.present.forEach(function (p) { state.present[p.member_id] = p; });
      renderPresent();
      setRound(event.round);
      $("host-panel").hidden = !state.isHost;
      if (event.last_seq > state.lastSeq) { resume(); }
    },
    "resume.done": function () { state.resuming = false; },
    "heartbeat": function (event) { if (event.last_seq > state.lastSeq) { resume(); } },
    "message": function (event) { showMessage(event); },
    "message.hidden": function (event) {
      var message = state.messages[event.message_id];
      if (message) { message.hidden = true; message.body = null; renderMessage(message); }
    },
    "message.warning_set": function (event) {
      var message = state.messages[event.message_id];
      if (message) { message.content_warning = event.content_warning; message.revealed = false; renderMessage(message); }
    },
    "member.muted": function (event) {
      if (state.me && event.member_id === state.me.member_id) { state.mutedUntil = event.until; updateComposer(); }
      systemLine(nameOf(event.member_id) + t(" is muted for a while."));
    },
    "member.unmuted": function (event) {
      if (state.me && event.member_id === state.me.member_id) { state.mutedUntil = null; updateComposer(); }
    },
    "member.removed": function (event) {
      delete state.present[event.member_id];
      renderPresent();
    },
    "session.status": function (event) { setStatus(event.status, event.note); },
    "round.started": function (event) { setRound({ prompt: event.prompt, order: event.order, current: event.current }); },
    "round.turn": function (event) {
      if (state.round) { state.round.current = event.current; setRound(state.round); }
    },
    "round.ended": function () { setRound(null); },
    "presence": function (event) {
      if (event.status === "left") { delete state.present[event.member_id]; }
      else { state.present[event.member_id] = event; }
      renderPresent();
    },
    "support.requested": function (event) {
      alertLine(event.display_name + t(" asked for support") + (event.note ? ": " + event.note : "."));
    },
    "concern.raised": function (event) {
      var line = alertLine(fill(t("A new %s concern was raised. "), [event.urgency]));
      var link = el("a", null, t("Open the concern"));
      link.href = "/concerns/" + event.concern_id + "/";
      line.appendChild(link);
    },
    "notice": function (event) { systemLine(event.message); say(event.message); },
    "ack": function (event) {
      var pending = document.querySelector('[data-client-id="' + event.client_id + '"]');
      if (pending) { pending.remove(); }
    },
    "error": function (event) { say(event.message); }
  };

  function nameOf(memberId) {
    var person = state.present[memberId];
    return person ? person.display_name : t("Someone");
  }

  /* --- rendering -------------------------------------------------------------------- */

  function setStatus(status, note) {
    state.status = status;
    var banner = $("status-banner");
    var text = "";
    if (status === "paused") { text = t("Grounding break") + (note ? ": " + note : "."); }
    else if (status === "open" || status === "scheduled") { text = t("The session will start soon."); }
    else if (status === "ended") { text = t("The session has ended. Thank you for being here."); }
    banner.textContent = text;
    banner.hidden = !text;
    root.setAttribute("data-status", status);
    /* Host controls show only the moves the session can make now. */
    Array.prototype.forEach.call(document.querySelectorAll("#host-panel [data-when]"), function (node) {
      node.hidden = node.getAttribute("data-when") !== status;
    });
    $("end-session").hidden = !config.is_facilitator || status === "ended" || status === "scheduled";
    updateComposer();
  }

  function updateComposer() {
    var muted = state.mutedUntil && new Date(state.mutedUntil) > new Date();
    var canPost = state.status === "live" || (state.isHost && (state.status === "open" || state.status === "paused"));
    $("send").disabled = !!muted || !canPost || state.closedForGood;
    $("body").setAttribute("aria-disabled", $("send").disabled ? "true" : "false");
  }

  function setRound(round) {
    state.round = round;
    var banner = $("round-banner");
    var mine = !!(round && state.me && round.current === state.me.member_id);
    $("turn-done").hidden = !mine;
    $("turn-pass").hidden = !mine;
    if (!round) { banner.hidden = true; banner.textContent = ""; return; }
    var who = round.current === null ? "" : (mine ? t(" It is your turn.") : t(" Now: ") + nameOf(round.current) + ".");
    var prompt = /[.?!]$/.test(round.prompt) ? round.prompt : round.prompt + ".";
    banner.textContent = t("Round: ") + prompt + who;
    banner.hidden = false;
  }

  function renderPresent() {
    var list = $("present");
    list.textContent = "";
    Object.keys(state.present).forEach(function (key) {
      var person = state.present[key];
      var item = el("li", "person");
      item.appendChild(el("span", "name", person.display_name));
      if (person.role !== "member") {
        item.appendChild(el("span", "tag role-" + person.role, person.role === "peer_mentor" ? t("Peer mentor") : t("Facilitator")));
      }
      if (person.status === "stepped_out") { item.appendChild(el("span", "meta", t(" (stepped out)"))); }
      list.appendChild(item);
    });
  }

  function systemLine(text) {
    var item = el("li", "system", text);
    $("messages").appendChild(item);
  }

  function alertLine(text) {
    var item = el("li", "alert", text);
    $("alerts").appendChild(item);
    return item;
  }

  function showMessage(event) {
    var message = state.messages[event.message_id] || { revealed: false };
    Object.assign(message, event);
    state.messages[event.message_id] = message;
    renderMessage(message);
  }

  function collapsedFor(message) {
    if (!message.content_warning) { return false; }
    if (state.me && message.author && message.author.member_id === state.me.member_id) { return false; }
    return (config.preferences[message.content_warning.category] || "collapse") === "collapse";
  }

  function renderMessage(message) {
    var item = document.getElementById("m-" + message.message_id);
    if (!item) {
      var list = $("messages");
      var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      item = el("li", "message");
      item.id = "m-" + message.message_id;
      list.appendChild(item);
      if (atBottom) { list.scrollTop = list.scrollHeight; }
    }
    item.textContent = "";
    var head = el("p", "meta");
    var author = message.author ? message.author.display_name : t("A former member");
    head.appendChild(el("span", "author", author));
    if (message.author && message.author.role !== "member") {
      head.appendChild(el("span", "tag role-" + message.author.role, message.author.role === "peer_mentor" ? t("Peer mentor") : t("Facilitator")));
    }
    var time = el("time", null, new Date(message.sent_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.setAttribute("datetime", message.sent_at);
    head.appendChild(time);
    item.appendChild(head);
    if (message.hidden) {
      item.appendChild(el("p", "hidden-note", t("This message was removed by a host.")));
    } else if (collapsedFor(message) && !message.revealed) {
      var cw = message.content_warning;
      var label = cwLabels[cw.category] || cw.category;
      var button = el("button", "cw-toggle", t("Content warning: ") + label + (cw.note ? " (" + cw.note + ")" : "") + t(". Show message"));
      button.type = "button";
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () { message.revealed = true; renderMessage(message); focusBody(message); });
      item.appendChild(button);
    } else {
      if (message.content_warning) {
        var tag = cwLabels[message.content_warning.category] || message.content_warning.category;
        item.appendChild(el("p", "cw-tag", t("Content warning: ") + tag));
      }
      var body = el("p", "body", message.body);
      body.tabIndex = -1;
      item.appendChild(body);
    }
    item.appendChild(messageActions(message));
  }

  function focusBody(message) {
    var body = document.querySelector("#m-" + message.message_id + " .body");
    if (body) { body.focus(); }
  }

  function actionButton(label, handler) {
    var button = el("button", "small secondary", label);
    button.type = "button";
    button.addEventListener("click", handler);
    return button;
  }

  function messageActions(message) {
    var bar = el("div", "message-actions");
    var mine = state.me && message.author && message.author.member_id === state.me.member_id;
    if (!mine) {
      bar.appendChild(actionButton(t("Raise a concern"), function () { openConcern(message); }));
    }
    if (state.isHost && !message.hidden) {
      bar.appendChild(actionButton(t("Add warning"), function () { openModeration("warning", message); }));
      bar.appendChild(actionButton(t("Hide"), function () { openModeration("hide", message); }));
      if (message.author && !mine && message.author.role === "member") {
        bar.appendChild(actionButton(t("Mute"), function () { openModeration("mute", message); }));
        if (config.is_facilitator) {
          bar.appendChild(actionButton(t("Remove"), function () { openModeration("remove", message); }));
        }
      }
    }
    return bar;
  }

  /* --- member actions --------------------------------------------------------------- */

  $("send-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = $("body").value;
    if (!body.trim()) { return; }
    var category = $("cw").value;
    var clientId = uuid();
    var payload = { type: "message.send", client_id: clientId, body: body, content_warning: category ? { category: category } : null };
    if (send(payload)) {
      var pending = el("li", "pending", t("Sending…"));
      pending.setAttribute("data-client-id", clientId);
      $("messages").appendChild(pending);
      $("body").value = "";
      $("cw").value = "";
    } else {
      say(t("Not connected yet. Your message is still in the box."));
    }
  });

  $("body").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("send-form").requestSubmit();
    }
  });

  $("turn-done").addEventListener("click", function () { send({ type: "round.done" }); });
  $("turn-pass").addEventListener("click", function () { send({ type: "round.pass" }); });
  $("step-out").addEventListener("click", function () {
    state.steppedOut = !state.steppedOut;
    send({ type: "presence.set", status: state.steppedOut ? "stepped_out" : "here" });
    $("step-out").textContent = state.steppedOut ? t("I am back") : t("Step out");
  });
  $("support").addEventListener("click", function () {
    if (send({ type: "support.request" })) { say(t("A host has been told. Someone will be with you.")); }
  });

  /* --- concerns --------------------------------------------------------------------- */

  var categorySelect = $("concern-category");
  config.categories.forEach(function (category) {
    var option = el("option", null, category.label);
    option.value = category.key;
    categorySelect.appendChild(option);
  });

  function openConcern(message) {
    state.selectedMessage = message || null;
    $("concern-message").textContent = message ? t("About the message from ") + (message.author ? message.author.display_name : t("a former member")) + "." : "";
    categorySelect.value = message ? "about_member" : "my_wellbeing";
    $("concern-dialog").showModal();
    $("concern-body").focus();
  }

  $("concern-open").addEventListener("click", function () { openConcern(null); });
  $("concern-cancel").addEventListener("click", function () { $("concern-dialog").close(); });
  $("concern-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var message = state.selectedMessage;
    var payload = {
      group_id: config.group_id,
      category: categorySelect.value,
      body: $("concern-body").value,
      urgency: $("concern-urgency").value,
      share_with_peer_mentors: $("concern-share").checked,
      message_ids: message ? [message.message_id] : []
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
        say(t("Thank you. Only the facilitators can see it. You will find their answer under Concerns."));
      } else {
        return response.json().then(function (body) { say(body.message || t("That did not work. Please try again.")); });
      }
    }).catch(function () { say(t("That did not work. Please try again.")); });
  });

  /* --- host controls ---------------------------------------------------------------- */

  Array.prototype.forEach.call(document.querySelectorAll("#host-panel [data-status]"), function (button) {
    button.addEventListener("click", function () {
      send({ type: "session.set_status", status: button.getAttribute("data-status") });
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

  var modCw = $("mod-cw");
  config.content_warnings.forEach(function (cw) {
    var option = el("option", null, cw.label);
    option.value = cw.key;
    modCw.appendChild(option);
    var composerOption = el("option", null, cw.label);
    composerOption.value = cw.key;
    $("cw").appendChild(composerOption);
  });

  function openModeration(kind, message) {
    state.moderation = { kind: kind, message: message };
    var who = message.author ? message.author.display_name : "";
    var titles = { warning: t("Add a content warning"), hide: t("Hide this message"), mute: t("Mute ") + who, remove: t("Remove ") + who + t(" from this session") };
    $("mod-what").textContent = titles[kind];
    $("mod-minutes-wrap").hidden = kind !== "mute";
    $("mod-cw-wrap").hidden = kind !== "warning";
    $("mod-reason-wrap").hidden = kind === "warning";
    $("mod-reason").value = "";
    $("mod-dialog").showModal();
  }
  $("mod-cancel").addEventListener("click", function () { $("mod-dialog").close(); });
  $("mod-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var action = state.moderation;
    if (!action) { return; }
    var message = action.message;
    var reason = $("mod-reason").value;
    if (action.kind === "warning") {
      send({ type: "message.set_warning", message_id: message.message_id, content_warning: { category: modCw.value } });
    } else if (action.kind === "hide") {
      send({ type: "message.hide", message_id: message.message_id, reason: reason });
    } else if (action.kind === "mute") {
      send({ type: "member.mute", member_id: message.author.member_id, minutes: parseInt($("mod-minutes").value, 10), reason: reason });
    } else if (action.kind === "remove") {
      send({ type: "member.remove", member_id: message.author.member_id, reason: reason });
    }
    $("mod-dialog").close();
  });

  window.setInterval(updateComposer, 15000);
  connect();
})();

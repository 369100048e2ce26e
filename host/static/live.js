// Stoa live pages: oTree's page API. A page defines `liveRecv(data)` and calls `liveSend(data)`.
//
// - One WebSocket to /live/{participant}?page=NAME&after=SEQ.
// - Server frames: {"seq": N, "data": P} → liveRecv(P); {"error": "..."} → liveError(text)
//   if the page defines it, else the console.
// - On page load the page's history is replayed (after=0) unless the script tag says
//   data-history="false". On a reconnect, the messages missed since the last seq seen.
// - Reconnects with exponential backoff (0.25 s doubling to 5 s, with jitter); sends made
//   while down are queued and sent, in order, once the socket is back.
// - Optional page hooks: liveError(text), liveStatus("open" | "closed").
(function () {
  "use strict";
  var script = document.currentScript;
  var participant = script.dataset.participant;
  var page = script.dataset.page;
  var history = script.dataset.history !== "false";
  var lastSeq = history ? 0 : null;
  var queue = [];
  var socket = null;
  var delay = 250;

  function hook(name, arg) {
    var f = window[name];
    if (typeof f === "function") {
      try { f(arg); } catch (e) { console.error(e); }
      return true;
    }
    return false;
  }

  function url() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var u = proto + "//" + location.host + "/live/" + encodeURIComponent(participant) +
      "?page=" + encodeURIComponent(page);
    if (lastSeq !== null) u += "&after=" + lastSeq;
    return u;
  }

  function connect() {
    var ws = new WebSocket(url());
    socket = ws;
    ws.onopen = function () {
      delay = 250;
      hook("liveStatus", "open");
      while (queue.length && ws.readyState === WebSocket.OPEN) ws.send(queue.shift());
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.seq === "number") {
        if (lastSeq !== null && frame.seq <= lastSeq) return; // already seen
        lastSeq = frame.seq;
        hook("liveRecv", frame.data);
      } else if (frame && "error" in frame) {
        if (!hook("liveError", frame.error)) console.warn("live error:", frame.error);
      }
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      hook("liveStatus", "closed");
      var wait = delay * (0.75 + Math.random() / 2);
      delay = Math.min(delay * 2, 5000);
      setTimeout(connect, wait);
    };
  }

  window.liveSend = function (data) {
    var text = JSON.stringify(data === undefined ? null : data);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
    else queue.push(text);
  };

  connect();
})();

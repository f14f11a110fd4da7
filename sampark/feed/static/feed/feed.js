/* The volunteer feed, in a few lines instead of a framework (the whole first load must stay small):
   ask for newer posts every few seconds and put them on top, copy a post's text (and tell the server),
   and send the feed's forms without reloading the page. Everything still works without the script. */
(function () {
  "use strict";
  var feed = document.getElementById("feed");
  var timer = 0;
  var failures = 0;

  function newest() {
    var card = feed.querySelector("[data-tick]");
    return card ? card.getAttribute("data-tick") : "0";
  }

  function schedule() {
    var every = (+feed.getAttribute("data-every") || 10) * 1000 * Math.pow(2, failures);
    // Jitter, so thousands of phones opened by one announcement do not ask in step.
    timer = setTimeout(poll, every * (0.8 + Math.random() * 0.4));
  }

  function poll() {
    timer = 0;
    if (document.hidden) return; // asks again when the page is shown
    fetch(feed.getAttribute("data-poll") + "?after=" + newest(), { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status === 404) feed.removeAttribute("data-poll"); // link revoked: stop asking
        else if (!response.ok) throw response;
        failures = 0;
        return response.status === 200 ? response.text() : "";
      })
      .then(function (html) {
        if (!html) return;
        var empty = document.getElementById("empty");
        if (empty) empty.remove();
        feed.insertAdjacentHTML("afterbegin", html);
        var cards = feed.querySelectorAll("[data-tick]");
        for (var i = 40; i < cards.length; i++) cards[i].remove();
      }, function () {
        failures = Math.min(failures + 1, 5);
      })
      .then(function () {
        if (feed.hasAttribute("data-poll")) schedule();
      });
  }

  if (feed && feed.hasAttribute("data-poll")) {
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !timer && feed.hasAttribute("data-poll")) poll();
    });
  }

  function copied(button) {
    button.textContent = button.getAttribute("data-done");
    var url = button.getAttribute("data-copy");
    if (!(navigator.sendBeacon && navigator.sendBeacon(url))) {
      fetch(url, { method: "POST", credentials: "omit", keepalive: true });
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var lines = button.closest("[data-tick]").querySelectorAll("[data-line]");
    var text = Array.prototype.map.call(lines, function (node) { return node.textContent.trim(); })
      .filter(Boolean).join("\n");
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { if (document.execCommand("copy")) copied(button); } catch (e) { /* nothing copied */ }
      area.remove();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, fallback);
    } else {
      fallback();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-x") || (form.querySelector("[name]") && !event.submitter)) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    var box = form.closest("[data-swap]");
    fetch(form.action, { method: "POST", body: data, headers: { "X-Feed": "1" }, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw response;
        return response.text();
      })
      .then(function (html) { box.outerHTML = html; }, function () { form.submit(); });
  });
})();

/* Visitor counter and contact form. The API base URL comes from /config.json, written at deploy
 * time from the backend stack outputs: {"apiBaseUrl": "https://<api>/prod"}. Without it (or when the
 * API does not answer) both features show a short message and the rest of the page keeps working. */
(function () {
  "use strict";

  var TIMEOUT_MS = 6000;
  var SESSION_KEY = "cloudsite.counted";

  function $(id) {
    return document.getElementById(id);
  }

  function fetchJson(url, options) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    var opts = Object.assign({ cache: "no-store", credentials: "omit" }, options || {});
    if (controller) {
      opts.signal = controller.signal;
    }
    return fetch(url, opts).then(function (resp) {
      if (timer) {
        clearTimeout(timer);
      }
      return resp.text().then(function (text) {
        var body = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch (err) {
          body = null;
        }
        return { ok: resp.ok, status: resp.status, body: body };
      });
    }, function (err) {
      if (timer) {
        clearTimeout(timer);
      }
      throw err;
    });
  }

  function loadConfig() {
    return fetchJson("/config.json").then(function (res) {
      var base = res.ok && res.body && typeof res.body.apiBaseUrl === "string" ? res.body.apiBaseUrl : "";
      if (!/^https?:\/\//.test(base)) {
        throw new Error("API not configured");
      }
      return { apiBaseUrl: base.replace(/\/+$/, "") };
    });
  }

  function alreadyCounted() {
    try {
      return window.sessionStorage.getItem(SESSION_KEY) === "1";
    } catch (err) {
      return false;
    }
  }

  function markCounted() {
    try {
      window.sessionStorage.setItem(SESSION_KEY, "1");
    } catch (err) {
      /* Storage may be disabled: the next load simply counts again. */
    }
  }

  /* POST /count increments and returns the new count; GET /count only reads it. One increment per
   * browser session, so reloading the page does not inflate the number. */
  function showCounter(configPromise) {
    var out = $("visitor-count");
    var note = $("visitor-note");
    if (!out) {
      return;
    }
    configPromise
      .then(function (config) {
        var method = alreadyCounted() ? "GET" : "POST";
        return fetchJson(config.apiBaseUrl + "/count", { method: method }).then(function (res) {
          if (!res.ok || !res.body || typeof res.body.count !== "number") {
            throw new Error("counter API answered " + res.status);
          }
          if (method === "POST") {
            markCounted();
          }
          out.textContent = res.body.count.toLocaleString();
          out.setAttribute("data-state", "ok");
        });
      })
      .catch(function (err) {
        out.textContent = "\u2014";
        out.setAttribute("data-state", "unavailable");
        note.textContent = err && err.message === "API not configured"
          ? "(counter not configured)"
          : "(counter unavailable right now)";
      });
  }

  function setStatus(el, kind, text) {
    el.setAttribute("data-kind", kind);
    el.textContent = text;
  }

  function wireContactForm(configPromise) {
    var form = $("contact-form");
    var status = $("contact-status");
    var submit = $("contact-submit");
    if (!form) {
      return;
    }
    var fields = ["name", "email", "message"];

    function clearInvalid() {
      fields.forEach(function (name) {
        form.elements[name].removeAttribute("aria-invalid");
      });
    }

    configPromise.catch(function () {
      submit.disabled = true;
      setStatus(status, "error", "The contact form is not available right now.");
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearInvalid();
      var payload = {
        name: form.elements.name.value.trim(),
        email: form.elements.email.value.trim(),
        message: form.elements.message.value.trim(),
        website: form.elements.website.value
      };
      var missing = fields.filter(function (name) { return !payload[name]; })[0];
      if (missing) {
        form.elements[missing].setAttribute("aria-invalid", "true");
        form.elements[missing].focus();
        setStatus(status, "error", "Please fill in the " + missing + " field.");
        return;
      }
      submit.disabled = true;
      setStatus(status, "pending", "Sending\u2026");
      configPromise
        .then(function (config) {
          return fetchJson(config.apiBaseUrl + "/contact", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(payload)
          });
        })
        .then(function (res) {
          if (res.ok) {
            form.reset();
            setStatus(status, "ok", "Thank you, your message has been sent.");
            return;
          }
          var body = res.body || {};
          if (body.field && form.elements[body.field] && fields.indexOf(body.field) >= 0) {
            form.elements[body.field].setAttribute("aria-invalid", "true");
            form.elements[body.field].focus();
          }
          setStatus(status, "error", body.error || "The message could not be sent (error " + res.status + ").");
        })
        .catch(function () {
          setStatus(status, "error", "The message could not be sent right now. Please try again later.");
        })
        .then(function () {
          submit.disabled = false;
        });
    });
  }

  function showVersion() {
    var el = $("build-version");
    if (!el) {
      return;
    }
    fetchJson("/version.json").then(function (res) {
      if (res.ok && res.body && typeof res.body.hash === "string") {
        el.textContent = "Build " + res.body.hash.slice(0, 12) + ".";
      }
    }).catch(function () { /* The footer simply stays without a version. */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var configPromise = loadConfig();
    showCounter(configPromise);
    wireContactForm(configPromise);
    showVersion();
  });
})();

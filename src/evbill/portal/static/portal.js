/* evbill portal: small progressive enhancements, no framework. Pages work without it except
   for live updates, the tariff preview and card tokenization (which must happen in the browser). */
"use strict";
(function () {
  const POLL_MS = Number(document.documentElement.dataset.pollMs || 2000);
  const STATUS_TEXT = { pending: "Waiting for your bank", starting: "Reserved", settled: "Paid",
    failed: "Declined" };

  function set(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = text; });
  }
  function money(m) { return m ? m.amount + " " + m.currency : "–"; }
  function showError(root, message) {
    const el = root.querySelector("[data-error]");
    if (el) { el.textContent = message; el.hidden = !message; }
  }
  async function json(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}));
    const body = await response.json().catch(function () { return {}; });
    if (!response.ok) { throw new Error(body.detail || ("HTTP " + response.status)); }
    return body;
  }
  function post(url, body, headers) {
    return json(url, { method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, headers || {}), body: JSON.stringify(body) });
  }

  /* Live session cards (driver overview). */
  document.querySelectorAll("[data-live]").forEach(function (card) {
    async function tick() {
      try {
        const live = await json(card.dataset.live);
        set(card, "energy_kwh", live.energy_kwh);
        set(card, "cost", money(live.cost_so_far));
        set(card, "power_kw", live.power_kw || "–");
        set(card, "state", live.session.state);
        set(card, "at", new Date(live.at).toLocaleTimeString());
        if (!live.running) { card.classList.add("ended"); return; }
      } catch (e) { /* keep polling through a blip */ }
      setTimeout(tick, POLL_MS);
    }
    tick();
  });

  /* Card tokenization: the card goes to the provider (the sandbox's endpoint here), only the token to us. */
  async function tokenize(form) {
    const [month, year] = form.exp.value.split("/").map(function (v) { return parseInt(v, 10); });
    const card = await post("/api/v1/sandbox/tokens", {
      number: form.number.value.replace(/\s/g, ""), exp_month: month,
      exp_year: year < 100 ? 2000 + year : year, cvc: form.cvc.value });
    return card.token;
  }

  const cardForm = document.getElementById("card-form");
  if (cardForm) {
    cardForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      showError(cardForm, "");
      try {
        const token = await tokenize(cardForm);
        const save = document.createElement("form");
        save.method = "post"; save.action = cardForm.dataset.tokenize;
        [["csrf", cardForm.csrf.value], ["token", token]].forEach(function (pair) {
          const input = document.createElement("input");
          input.type = "hidden"; input.name = pair[0]; input.value = pair[1]; save.appendChild(input);
        });
        document.body.appendChild(save); save.submit();
      } catch (e) { showError(cardForm, e.message); }
    });
  }

  /* Tariff editor: live price preview of the sample session. */
  const tariffForm = document.getElementById("tariff-form");
  if (tariffForm) {
    const preview = document.getElementById("preview");
    let timer = null;
    async function refresh() {
      const data = {};
      new FormData(tariffForm).forEach(function (value, key) { if (key !== "csrf") { data[key] = value; } });
      try {
        const out = await post(tariffForm.dataset.preview, data, { "X-CSRF-Token": tariffForm.dataset.csrf });
        preview.querySelector("[data-prices]").innerHTML = "";
        out.prices.forEach(function (p) {
          const li = document.createElement("li"); li.textContent = p; preview.querySelector("[data-prices]").appendChild(li);
        });
        const body = preview.querySelector("[data-lines]"); body.innerHTML = "";
        out.lines.forEach(function (line) {
          const tr = document.createElement("tr");
          [line.kind.replace("_", " ").toLowerCase(), line.quantity + " " + line.unit, line.amount].forEach(function (text, i) {
            const td = document.createElement("td"); td.textContent = text; if (i) { td.className = "num"; } tr.appendChild(td);
          });
          body.appendChild(tr);
        });
        document.getElementById("preview-total").textContent = out.total_incl_vat;
        showError(preview, "");
      } catch (e) { showError(preview, e.message); }
    }
    tariffForm.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    refresh();
  }

  /* Ad hoc payment at an EVSE. */
  const payForm = document.getElementById("pay-form");
  if (payForm) {
    async function pay(token) {
      const paid = await post(payForm.dataset.pay, { payment_method_token: token });
      window.location.assign(paid.links.page);
    }
    payForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      showError(payForm, "");
      payForm.querySelector("button[type=submit]").disabled = true;
      try { await pay(await tokenize(payForm)); }
      catch (e) { showError(payForm, e.message); payForm.querySelector("button[type=submit]").disabled = false; }
    });
    document.querySelectorAll("[data-wallet-token]").forEach(function (button) {
      button.addEventListener("click", function () {
        pay(button.dataset.walletToken).catch(function (e) { showError(payForm, e.message); });
      });
    });
  }

  /* The ad hoc payer's status page. */
  const status = document.getElementById("pay-status");
  if (status) {
    let challenge = null;
    async function tick() {
      try {
        const s = await json(status.dataset.status);
        set(status, "status", STATUS_TEXT[s.status] || s.status);
        set(status, "session_state", s.session_state || "waiting for the station");
        set(status, "energy_kwh", s.energy_kwh || "0.000");
        set(status, "energy_again", s.energy_kwh || "0.000");
        set(status, "cost", money(s.cost_so_far));
        set(status, "captured", money(s.captured));
        set(status, "cdr_id", s.cdr_id || "");
        challenge = s.challenge_ref;
        document.getElementById("challenge").hidden = !challenge;
        document.getElementById("receipt").hidden = s.status !== "settled";
        if (s.status === "failed") { showError(status, "The payment was declined" + (s.decline_code ? " (" + s.decline_code + ")" : "") + "."); }
        if (s.status === "settled" || s.status === "failed") { return; }
      } catch (e) { /* keep polling */ }
      setTimeout(tick, POLL_MS);
    }
    status.querySelectorAll("[data-challenge]").forEach(function (button) {
      button.addEventListener("click", async function () {
        try {
          await post("/api/v1/sandbox/challenges/" + challenge, { success: button.dataset.challenge === "pass" });
          await json(status.dataset.confirm, { method: "POST" });
        } catch (e) { showError(status, e.message); }
      });
    });
    tick();
  }
})();

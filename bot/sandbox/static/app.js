// The sandbox page: a Slack workspace on the left and middle, Stripe on the
// right. State arrives by server-sent events; every action is a POST that the
// server turns into what Slack or Stripe would send the bot, signed.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  person: null,
  conversation: "CSUPPORT", // channel id, "dm:U…", or "home"
  thread: null, // ts of the open thread
  state: null,
  modalKey: null,
};

async function api(path, body) {
  const resp = await fetch(`/sandbox/api/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(answer.error || `HTTP ${resp.status}`);
  return answer;
}

function showError(message) {
  const box = $("composer-error");
  box.textContent = message;
  box.hidden = !message;
}

// -- sidebar -------------------------------------------------------------------

function renderSidebar(state) {
  const select = $("person");
  if (!select.options.length) {
    state.people.forEach((p) => {
      select.add(new Option(`${p.name} (${p.role})`, p.id));
    });
    ui.person = state.people[0].id;
    select.value = ui.person;
  }
  const item = (key, label, extra = "") =>
    `<li><a href="#" data-conversation="${Blocks.esc(key)}" class="${ui.conversation === key ? "active" : ""}">${label}${extra}</a></li>`;
  $("channel-list").innerHTML = state.channels
    .map((c) => {
      const count = (state.conversations[c.id] || []).filter(topLevel).length;
      return item(c.id, `# ${Blocks.esc(c.name)}`, count ? ` <span class="count">${count}</span>` : "");
    })
    .join("");
  const dm = `dm:${ui.person}`;
  const dms = (state.conversations[dm] || []).length;
  $("dm-list").innerHTML = item(dm, "stripe-ops", dms ? ` <span class="count">${dms}</span>` : "");
  $("app-list").innerHTML = item("home", "stripe-ops · Home");
}

// -- messages ------------------------------------------------------------------

const topLevel = (m) => !m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast;

function author(msg) {
  if (msg.ephemeral) return `stripe-ops <span class="app">APP</span> <span class="only-you">Only visible to you</span>`;
  return `stripe-ops <span class="app">APP</span>`;
}

function time(ts) {
  const d = new Date(Number(ts) * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function messageHtml(msg, { replies = [], inThread = false } = {}) {
  const where = msg.ephemeral
    ? `data-ephemeral="${Blocks.esc(msg.id)}"`
    : `data-channel="${Blocks.esc(msg.channel)}" data-ts="${Blocks.esc(msg.ts)}"`;
  const edited = msg.edited ? ` <span class="muted small">(edited)</span>` : "";
  const thread = !inThread && replies.length
    ? `<button type="button" class="thread-link" data-thread="${Blocks.esc(msg.ts)}">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</button>`
    : "";
  const cls = msg.ephemeral ? "msg ephemeral" : "msg";
  return `<article class="${cls}" ${where}><div class="meta"><b>${author(msg)}</b> <span class="muted small">${time(msg.posted_at || msg.ts)}</span>${edited}</div>` +
    `<div class="content">${Blocks.message(msg)}</div>${thread}</article>`;
}

function conversationMessages(state, key) {
  const posted = state.conversations[key] || [];
  const mine = state.ephemerals
    .filter((e) => e.user === ui.person && e.channel === key)
    .map((e) => ({ ...e, ephemeral: true }));
  return posted.concat(mine).sort((a, b) => Number(a.ts) - Number(b.ts));
}

function renderMessages(state) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const key = ui.conversation;
  $("composer").hidden = key === "home" || key.startsWith("dm:");
  if (key === "home") {
    $("conversation-title").textContent = "stripe-ops · Home";
    const view = state.home[ui.person];
    box.innerHTML = view
      ? `<div class="home" data-view="${Blocks.esc(view.id)}">${Blocks.blocks(view.blocks)}</div>`
      : `<p class="muted">Opening App Home…</p>`;
    return;
  }
  const name = key.startsWith("dm:") ? "stripe-ops (direct message)"
    : `# ${(state.channels.find((c) => c.id === key) || { name: key }).name}`;
  $("conversation-title").textContent = name;
  const all = conversationMessages(state, key);
  box.innerHTML = all.filter(topLevel).map((m) => messageHtml(m, {
    replies: all.filter((r) => r.thread_ts === m.ts && r.ts !== m.ts),
  })).join("") || `<p class="muted">Nothing here yet.</p>`;
  if (atBottom) box.scrollTop = box.scrollHeight;
  renderThread(all);
}

function renderThread(all) {
  const pane = $("thread");
  if (!ui.thread) { pane.hidden = true; return; }
  const parent = all.find((m) => m.ts === ui.thread);
  if (!parent) { pane.hidden = true; return; }
  pane.hidden = false;
  const replies = all.filter((r) => r.thread_ts === ui.thread && r.ts !== ui.thread);
  $("thread-messages").innerHTML = messageHtml(parent, { inThread: true }) +
    `<div class="muted small replies-count">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>` +
    replies.map((r) => messageHtml(r, { inThread: true })).join("");
}

// -- modals --------------------------------------------------------------------

function renderModal(state) {
  const stack = state.modals[ui.person] || [];
  const view = stack[stack.length - 1];
  const backdrop = $("modal-backdrop");
  if (!view) {
    backdrop.hidden = true;
    ui.modalKey = null;
    return;
  }
  backdrop.hidden = false;
  const key = `${view.id}:${view.hash}`;
  const modal = $("modal");
  if (ui.modalKey !== key) {
    ui.modalKey = key;
    const close = view.close ? Blocks.text(view.close) : "Cancel";
    const submit = view.submit
      ? `<button type="submit" class="primary">${Blocks.text(view.submit)}</button>` : "";
    modal.innerHTML = `<form data-view="${Blocks.esc(view.id)}" novalidate>` +
      `<header><h3>${Blocks.text(view.title)}</h3><button type="button" class="modal-x" aria-label="Close">×</button></header>` +
      `<div class="modal-body">${Blocks.blocks(view.blocks, view.errors)}</div>` +
      `<footer><button type="button" class="modal-cancel">${close}</button>${submit}</footer></form>`;
  }
  // Errors change without the view: shown beside the fields, values kept.
  modal.querySelectorAll(".b-input").forEach((box) => {
    const error = (view.errors || {})[box.dataset.blockId];
    const line = box.querySelector(".field-error");
    box.classList.toggle("has-error", Boolean(error));
    line.hidden = !error;
    line.textContent = error || "";
  });
}

// Slack's view.state.values from the form as it stands.
function viewState(root) {
  const values = {};
  root.querySelectorAll("[data-element]").forEach((node) => {
    const el = JSON.parse(node.dataset.element);
    if (!["input-element", "interactive"].some((c) => node.classList.contains(c))) return;
    const block = (values[el.block_id] = values[el.block_id] || {});
    switch (el.type) {
      case "plain_text_input":
        block[el.action_id] = { type: el.type, value: node.value === "" ? null : node.value };
        break;
      case "static_select": {
        const opt = node.value ? (el.options || []).concat(...(el.option_groups || []).map((g) => g.options)).find((o) => o.value === node.value) : null;
        block[el.action_id] = { type: el.type, selected_option: opt || null };
        break;
      }
      case "datepicker":
        block[el.action_id] = { type: el.type, selected_date: node.value || null };
        break;
      case "file_input":
        block[el.action_id] = { type: el.type, files: node._files || [] };
        break;
      case "checkboxes": {
        const prev = block[el.action_id] || { type: el.type, selected_options: [] };
        if (node.checked) prev.selected_options.push(el.options.find((o) => o.value === node.value));
        block[el.action_id] = prev;
        break;
      }
      default:
        break;
    }
  });
  return values;
}

// -- interactivity -------------------------------------------------------------

function confirmFirst(confirm) {
  if (!confirm) return Promise.resolve(true);
  return new Promise((resolve) => {
    $("confirm-title").innerHTML = Blocks.text(confirm.title);
    $("confirm-text").innerHTML = Blocks.text(confirm.text);
    $("confirm-ok").innerHTML = confirm.confirm ? Blocks.text(confirm.confirm) : "Yes";
    $("confirm-deny").innerHTML = confirm.deny ? Blocks.text(confirm.deny) : "Cancel";
    $("confirm-ok").className = confirm.style === "danger" ? "danger" : "primary";
    $("confirm-backdrop").hidden = false;
    const done = (answer) => {
      $("confirm-backdrop").hidden = true;
      $("confirm-ok").onclick = $("confirm-deny").onclick = null;
      resolve(answer);
    };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-deny").onclick = () => done(false);
  });
}

async function act(node, element) {
  const action = { ...element };
  if (element.type === "static_select" || element.type === "overflow") {
    const opt = (element.options || []).find((o) => o.value === node.value);
    if (!opt) return;
    action.selected_option = opt;
  } else if (element.type === "datepicker") {
    action.selected_date = node.value;
  }
  if (!(await confirmFirst(element.confirm))) return;
  if (node.dataset.url) window.open(node.dataset.url, "_blank", "noopener");
  const body = { user: ui.person, action };
  const msg = node.closest("article.msg");
  const view = node.closest("[data-view]");
  if (msg && msg.dataset.ephemeral) body.ephemeral = msg.dataset.ephemeral;
  else if (msg) { body.channel = msg.dataset.channel; body.ts = msg.dataset.ts; }
  else if (view) { body.view_id = view.dataset.view; body.state = viewState(view); }
  try { await api("click", body); showError(""); } catch (err) { showError(err.message); }
}

document.addEventListener("click", async (event) => {
  const target = event.target;
  const nav = target.closest("[data-conversation]");
  if (nav) {
    event.preventDefault();
    ui.conversation = nav.dataset.conversation;
    ui.thread = null;
    if (ui.conversation === "home") api("home", { user: ui.person }).catch((e) => showError(e.message));
    render();
    return;
  }
  const threadLink = target.closest("[data-thread]");
  if (threadLink) { ui.thread = threadLink.dataset.thread; render(); return; }
  const button = target.closest("button.interactive");
  if (button) { await act(button, JSON.parse(button.dataset.element)); return; }
  if (target.closest(".modal-x, .modal-cancel")) {
    const form = target.closest("form");
    await api("close", { user: ui.person, view_id: form.dataset.view });
  }
});

document.addEventListener("change", async (event) => {
  const node = event.target;
  if (node.classList.contains("interactive")) {
    await act(node, JSON.parse(node.dataset.element));
    return;
  }
  if (node.type === "file" && node.classList.contains("input-element")) {
    // As in Slack, a picked file is uploaded at once; the form sends its ID.
    node._files = [];
    const list = node.parentElement.querySelector(".uploaded");
    list.innerHTML = "";
    for (const file of node.files) {
      const form = new FormData();
      form.append("user", ui.person);
      form.append("file", file, file.name);
      const resp = await fetch("/sandbox/api/upload", { method: "POST", body: form });
      const stored = await resp.json();
      node._files.push(stored);
      list.insertAdjacentHTML("beforeend", `<li>📎 ${Blocks.esc(stored.name)}</li>`);
    }
  }
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  event.preventDefault();
  if (form.id === "composer") {
    const text = $("command").value.trim();
    if (!text.startsWith("/stripe")) { showError("Type a /stripe command, e.g. /stripe help"); return; }
    try {
      await api("command", { user: ui.person, channel: ui.conversation, text });
      $("command").value = "/stripe ";
      showError("");
    } catch (err) { showError(err.message); }
    return;
  }
  if (form.dataset.view) {
    form.querySelector("button[type=submit]").disabled = true;
    try {
      await api("submit", { user: ui.person, view_id: form.dataset.view, values: viewState(form) });
    } catch (err) { showError(err.message); }
    const submit = form.querySelector("button[type=submit]");
    if (submit) submit.disabled = false;
  }
});

$("person").addEventListener("change", (event) => {
  ui.person = event.target.value;
  ui.modalKey = null;
  if (ui.conversation.startsWith("dm:")) ui.conversation = `dm:${ui.person}`;
  if (ui.conversation === "home") api("home", { user: ui.person });
  render();
});
$("thread-close").addEventListener("click", () => { ui.thread = null; render(); });

// -- the Stripe panel ------------------------------------------------------------

function renderStripe(state) {
  const s = state.stripe;
  if (!$("currency").options.length) {
    s.currencies.forEach((c) => $("currency").add(new Option(c.toUpperCase(), c)));
    s.dispute_reasons.forEach((r) => $("dispute-reason").add(new Option(r.replace(/_/g, " "), r)));
    $("dispute-reason").value = "product_not_received";
  }
  $("charges").innerHTML = s.charges.slice().reverse().map((c) =>
    `<li data-charge="${Blocks.esc(c.id)}"><div><b>${Blocks.esc(c.shown)}</b> ${Blocks.esc(c.name || "")}` +
    `${c.amount_refunded ? ` <span class="tag">refunded ${c.amount_refunded === c.amount ? "in full" : "in part"}</span>` : ""}` +
    `${c.disputed ? ` <span class="tag danger">disputed</span>` : ""}</div>` +
    `<div class="ids"><code class="copy" title="Put a refund command in the message box" data-fill="/stripe refund ${Blocks.esc(c.payment_intent)} ">${Blocks.esc(c.payment_intent)}</code></div>` +
    `<div class="row"><button type="button" data-stripe="dashboard_refund">Refund in Dashboard</button>` +
    `<button type="button" data-stripe="dispute">Open dispute</button>` +
    `<button type="button" data-stripe="early_fraud_warning">Fraud warning</button></div></li>`).join("")
    || `<li class="muted">No payments yet.</li>`;
  $("disputes").innerHTML = s.disputes.slice().reverse().map((d) =>
    `<li data-dispute="${Blocks.esc(d.id)}"><div><b>${Blocks.esc(d.shown)}</b> ${Blocks.esc(d.reason.replace(/_/g, " "))} · <span class="status">${Blocks.esc(d.status.replace(/_/g, " "))}</span></div>` +
    `<div class="ids"><code class="copy" data-fill="/stripe dispute ${Blocks.esc(d.id)}">${Blocks.esc(d.id)}</code></div>` +
    `<div class="row"><button type="button" data-stripe="close_dispute" data-outcome="won">Bank decides: won</button>` +
    `<button type="button" data-stripe="close_dispute" data-outcome="lost">Bank decides: lost</button></div></li>`).join("")
    || `<li class="muted">No disputes yet.</li>`;
  $("stripe-status").textContent = `${s.delivered} webhooks delivered` + (s.refused ? `, ${s.refused} refused by the bot` : "");
}

async function stripe(action, body, button) {
  if (button) button.disabled = true;
  try { await api(`stripe/${action}`, body); showError(""); } catch (err) { showError(err.message); }
  if (button) button.disabled = false;
}

$("stripe").addEventListener("click", (event) => {
  const fill = event.target.closest("[data-fill]");
  if (fill) { $("command").value = fill.dataset.fill; $("command").focus(); return; }
  const button = event.target.closest("button");
  if (!button) return;
  const currency = $("currency").value;
  if (button.id === "make-payment") return stripe("payment", { currency }, button);
  if (button.id === "fail-payment") return stripe("failed_payment", { currency }, button);
  if (button.id === "fail-payout") return stripe("failed_payout", { currency }, button);
  if (button.id === "storm") return stripe("storm", { count: 500 }, button);
  const charge = button.closest("[data-charge]");
  const dispute = button.closest("[data-dispute]");
  const action = button.dataset.stripe;
  if (charge && action === "dispute") return stripe("dispute", { charge: charge.dataset.charge, reason: $("dispute-reason").value }, button);
  if (charge) return stripe(action, { charge: charge.dataset.charge }, button);
  if (dispute) return stripe(action, { dispute: dispute.dataset.dispute, outcome: button.dataset.outcome }, button);
  return undefined;
});

// -- state -----------------------------------------------------------------------

function render() {
  const state = ui.state;
  if (!state) return;
  const people = Object.fromEntries(state.people.map((p) => [p.id, p]));
  const channels = Object.fromEntries(state.channels.map((c) => [c.id, c.name]));
  Blocks.setDirectory(people, channels);
  renderSidebar(state);
  renderMessages(state);
  renderModal(state);
  renderStripe(state);
  document.body.dataset.version = state.version;
}

function connect() {
  const source = new EventSource("/sandbox/api/events");
  source.addEventListener("state", (event) => {
    ui.state = JSON.parse(event.data);
    render();
  });
}

connect();

// Block Kit and mrkdwn, rendered as Slack shows them. No framework: strings
// of HTML built from escaped text, and a few DOM elements for inputs.
"use strict";

const Blocks = (() => {
  const EMOJI = {
    white_check_mark: "✅", x: "❌", warning: "⚠️", rotating_light: "🚨",
    money_with_wings: "💸", moneybag: "💰", bell: "🔔", inbox_tray: "📥",
    hourglass_flowing_sand: "⏳", hourglass: "⌛", pencil2: "✏️", test_tube: "🧪",
    white_large_square: "⬜", ballot_box_with_check: "☑️", heavy_check_mark: "✔️",
    no_entry: "⛔", no_entry_sign: "🚫", lock: "🔒", bank: "🏦", receipt: "🧾",
    credit_card: "💳", link: "🔗", mag: "🔍", alarm_clock: "⏰", clock3: "🕒",
    calendar: "📅", page_facing_up: "📄", paperclip: "📎", information_source: "ℹ️",
    red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡",
    arrows_counterclockwise: "🔄", leftwards_arrow_with_hook: "↩️",
    hand: "✋", raising_hand: "🙋", scales: "⚖️", trophy: "🏆", tada: "🎉",
    chart_with_upwards_trend: "📈", envelope: "✉️", zap: "⚡", wave: "👋",
    speech_balloon: "💬", eyes: "👀", memo: "📝", package: "📦", truck: "🚚",
    shield: "🛡️", fire: "🔥", sos: "🆘", thumbsup: "👍", thumbsdown: "👎",
    hourglass_done: "⌛", bulb: "💡", gear: "⚙️", house: "🏠", outbox_tray: "📤",
  };

  let people = {};
  let channels = {};

  function setDirectory(newPeople, newChannels) {
    people = newPeople;
    channels = newChannels;
  }

  function esc(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Slack escapes only &, < and > in message text.
  function unslack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emoji(html) {
    return html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  }

  const pad = (n) => String(n).padStart(2, "0");
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"];

  function formatDate(ts, format) {
    const d = new Date(ts * 1000);
    const now = new Date();
    const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
    const diff = Math.round((day(d) - day(now)) / 86400000);
    const long = `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`;
    const short = `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`;
    const pretty = (plain) =>
      diff === 0 ? "Today" : diff === -1 ? "Yesterday" : diff === 1 ? "Tomorrow" : plain;
    const seconds = (Date.now() - d.getTime()) / 1000;
    const ago = seconds >= 0
      ? (seconds < 60 ? "just now" : seconds < 3600 ? `${Math.floor(seconds / 60)} minutes ago`
        : seconds < 86400 ? `${Math.floor(seconds / 3600)} hours ago` : `${Math.floor(seconds / 86400)} days ago`)
      : `in ${Math.ceil(-seconds / 86400)} days`;
    const tokens = {
      date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
      date: long, date_short: short, date_long: `${d.toLocaleDateString("en-US", { weekday: "long" })}, ${long}`,
      date_pretty: pretty(long), date_short_pretty: pretty(short),
      date_long_pretty: pretty(`${d.toLocaleDateString("en-US", { weekday: "long" })}, ${long}`),
      time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
      time_secs: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
      ago,
    };
    return format.replace(/\{(\w+)\}/g, (all, name) => tokens[name] ?? all);
  }

  // One `<…>` token of mrkdwn: links, mentions, dates, special mentions.
  function token(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : null;
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const who = people[id] ? people[id].name : (label || id);
      return `<span class="mention">@${esc(who)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = channels[id] || label || id;
      return `<span class="mention channel">#${esc(name)}</span>`;
    }
    if (target.startsWith("!date^")) {
      const [, ts, format, link] = target.split("^");
      const shown = esc(formatDate(Number(ts), unslack(format || "{date}")));
      const title = esc(unslack(label || ""));
      const body = `<time class="date" datetime="${new Date(Number(ts) * 1000).toISOString()}" title="${title}">${shown}</time>`;
      return link ? `<a href="${esc(unslack(link))}" target="_blank" rel="noopener">${body}</a>` : body;
    }
    if (target.startsWith("!subteam^")) {
      return `<span class="mention">@${esc(label || target.slice(9))}</span>`;
    }
    if (target.startsWith("!")) {
      return `<span class="mention">@${esc(target.slice(1))}</span>`;
    }
    const href = unslack(target);
    if (!/^(https?:|mailto:)/.test(href)) return esc(unslack(inner));
    const text = label !== null ? inline(unslack(label)) : esc(href);
    return `<a href="${esc(href)}" target="_blank" rel="noopener">${text}</a>`;
  }

  // Bold, italic, strike and code on text that is already HTML-escaped.
  function styles(html) {
    const codes = [];
    html = html.replace(/`([^`\n]+)`/g, (all, code) => {
      codes.push(`<code>${code}</code>`);
      return `\u0001${codes.length - 1}\u0001`;
    });
    html = html
      .replace(/(^|[\s(>\u0002])\*([^*\n]+)\*(?=$|[\s).,;:!?<\u0002])/g, "$1<b>$2</b>")
      .replace(/(^|[\s(>\u0002])_([^_\n]+)_(?=$|[\s).,;:!?<\u0002])/g, "$1<i>$2</i>")
      .replace(/(^|[\s(>\u0002])~([^~\n]+)~(?=$|[\s).,;:!?<\u0002])/g, "$1<s>$2</s>");
    return emoji(html).replace(/\u0001(\d+)\u0001/g, (all, i) => codes[Number(i)]);
  }

  function inline(text) {
    const parts = [];
    let html = "";
    let last = 0;
    const re = /<([^<>]+)>/g;
    let m;
    while ((m = re.exec(text)) !== null) {
      html += esc(unslack(text.slice(last, m.index)));
      parts.push(token(m[1]));
      html += `\u0002${parts.length - 1}\u0002`;
      last = re.lastIndex;
    }
    html += esc(unslack(text.slice(last)));
    return styles(html).replace(/\u0002(\d+)\u0002/g, (all, i) => parts[Number(i)]);
  }

  function mrkdwn(text) {
    const out = [];
    const chunks = String(text || "").split("```");
    chunks.forEach((chunk, i) => {
      if (i % 2 === 1) {
        out.push(`<pre>${esc(unslack(chunk.replace(/^\n/, "")))}</pre>`);
        return;
      }
      const lines = chunk.split("\n");
      let quote = [];
      const flush = () => {
        if (quote.length) out.push(`<blockquote>${quote.join("<br>")}</blockquote>`);
        quote = [];
      };
      const plain = [];
      lines.forEach((line) => {
        if (line.startsWith("&gt;")) {
          if (plain.length) { out.push(plain.join("<br>")); plain.length = 0; }
          quote.push(inline(line.replace(/^&gt;\s?/, "")));
        } else {
          flush();
          plain.push(inline(line));
        }
      });
      flush();
      if (plain.length) out.push(plain.join("<br>"));
    });
    return out.join("");
  }

  function text(obj) {
    if (!obj) return "";
    if (obj.type === "mrkdwn") return mrkdwn(obj.text);
    const html = esc(obj.text || "");
    return obj.emoji === false ? html : emoji(html);
  }

  // -- elements --------------------------------------------------------------

  // Interactive elements carry their JSON; app.js listens for clicks/changes.
  function data(element, blockId) {
    return esc(JSON.stringify({ ...element, block_id: blockId }));
  }

  function option(opt, selected) {
    return `<option value="${esc(opt.value)}"${selected ? " selected" : ""}>${esc(opt.text.text)}</option>`;
  }

  function select(element, blockId, { input } = {}) {
    const chosen = element.initial_option ? element.initial_option.value : null;
    const groups = element.option_groups
      ? element.option_groups.map((g) =>
        `<optgroup label="${esc(g.label.text)}">${g.options.map((o) => option(o, o.value === chosen)).join("")}</optgroup>`).join("")
      : (element.options || []).map((o) => option(o, o.value === chosen)).join("");
    const placeholder = element.placeholder ? esc(element.placeholder.text) : "Select an option";
    const cls = input ? "input-element" : "interactive";
    return `<select class="${cls}" data-element="${data(element, blockId)}">` +
      `<option value=""${chosen ? "" : " selected"}>${placeholder}</option>${groups}</select>`;
  }

  function element(el, blockId) {
    switch (el.type) {
      case "button": {
        const style = el.style ? ` ${el.style}` : "";
        const link = el.url ? ` data-url="${esc(el.url)}"` : "";
        return `<button type="button" class="interactive button${style}"${link} data-element="${data(el, blockId)}">${text(el.text)}</button>`;
      }
      case "static_select":
        return select(el, blockId);
      case "overflow":
        return select({ ...el, placeholder: { text: "⋯" } }, blockId);
      case "datepicker":
        return `<input type="date" class="interactive" value="${esc(el.initial_date || "")}" data-element="${data(el, blockId)}">`;
      case "image":
        return `<img class="accessory-image" src="${esc(el.image_url)}" alt="${esc(el.alt_text || "")}">`;
      default:
        return `<span class="unsupported">[${esc(el.type)}]</span>`;
    }
  }

  function inputElement(el, blockId) {
    const d = data(el, blockId);
    switch (el.type) {
      case "plain_text_input": {
        const value = esc(el.initial_value || "");
        const ph = el.placeholder ? ` placeholder="${esc(el.placeholder.text)}"` : "";
        const max = el.max_length ? ` maxlength="${el.max_length}"` : "";
        return el.multiline
          ? `<textarea class="input-element" rows="3" data-element="${d}"${ph}${max}>${value}</textarea>`
          : `<input class="input-element" data-element="${d}" value="${value}"${ph}${max}>`;
      }
      case "static_select":
        return select(el, blockId, { input: true });
      case "datepicker":
        return `<input type="date" class="input-element" value="${esc(el.initial_date || "")}" data-element="${d}">`;
      case "file_input": {
        const types = (el.filetypes || []).map((t) => `.${t}`).join(",");
        return `<div class="file-input"><input type="file" class="input-element" data-element="${d}"${types ? ` accept="${esc(types)}"` : ""}${(el.max_files || 1) > 1 ? " multiple" : ""}>` +
          `<ul class="uploaded"></ul></div>`;
      }
      case "checkboxes":
        return (el.options || []).map((o) =>
          `<label class="check"><input type="checkbox" class="input-element" value="${esc(o.value)}" data-element="${d}"> ${text(o.text)}</label>`).join("");
      default:
        return `<span class="unsupported">[${esc(el.type)}]</span>`;
    }
  }

  // -- blocks ----------------------------------------------------------------

  function block(b, index, errors) {
    const blockId = b.block_id || `blk${index}`;
    switch (b.type) {
      case "header":
        return `<div class="b-header">${text(b.text)}</div>`;
      case "divider":
        return `<hr class="b-divider">`;
      case "section": {
        const fields = b.fields
          ? `<div class="b-fields">${b.fields.map((f) => `<div>${text(f)}</div>`).join("")}</div>`
          : "";
        const accessory = b.accessory ? `<div class="b-accessory">${element(b.accessory, blockId)}</div>` : "";
        return `<div class="b-section"><div class="b-body">${b.text ? `<div>${text(b.text)}</div>` : ""}${fields}</div>${accessory}</div>`;
      }
      case "context":
        return `<div class="b-context">${(b.elements || []).map((e) =>
          e.type === "image" ? `<img src="${esc(e.image_url)}" alt="${esc(e.alt_text || "")}">` : `<span>${text(e)}</span>`).join("")}</div>`;
      case "actions":
        return `<div class="b-actions">${(b.elements || []).map((e) => element(e, blockId)).join("")}</div>`;
      case "image":
        return `<figure class="b-image"><img src="${esc(b.image_url)}" alt="${esc(b.alt_text || "")}"></figure>`;
      case "input": {
        const error = errors && errors[blockId];
        const optional = b.optional ? ` <span class="muted">(optional)</span>` : "";
        const hint = b.hint ? `<div class="hint">${text(b.hint)}</div>` : "";
        const err = `<div class="field-error"${error ? "" : " hidden"}>${error ? esc(error) : ""}</div>`;
        return `<div class="b-input${error ? " has-error" : ""}" data-block-id="${esc(blockId)}">` +
          `<label>${text(b.label)}${optional}</label>${inputElement(b.element, blockId)}${hint}${err}</div>`;
      }
      case "rich_text":
        return `<div class="b-section">${esc(JSON.stringify(b.elements).slice(0, 200))}</div>`;
      default:
        return `<div class="unsupported">[${esc(b.type)} block]</div>`;
    }
  }

  function blocks(list, errors) {
    return (list || []).map((b, i) => block(b, i, errors)).join("");
  }

  // A message: its blocks, or its text when it has none (as Slack shows it).
  function message(msg) {
    return msg.blocks && msg.blocks.length ? blocks(msg.blocks)
      : `<div class="b-section"><div class="b-body">${mrkdwn(msg.text)}</div></div>`;
  }

  return { setDirectory, esc, mrkdwn, text, blocks, message, formatDate };
})();

// The local Slack page: draws what the bot posted (Block Kit) and sends what a person does.
// Everything goes through /local/* on the same server, which signs it as Slack would.
"use strict";

const EMOJI = {
  telephone_receiver: "📞", white_check_mark: "✅", warning: "⚠️", large_green_circle: "🟢",
  double_vertical_bar: "⏸️", test_tube: "🧪", no_entry: "⛔", loudspeaker: "📢",
  grey_question: "❔", zap: "⚡", x: "❌", white_circle: "⚪", red_circle: "🔴",
  octagonal_sign: "🛑", hourglass: "⌛", calendar: "📆", zzz: "💤", wastebasket: "🗑️",
  spiral_calendar_pad: "🗓️", rotating_light: "🚨", rocket: "🚀", repeat: "🔁",
  no_entry_sign: "🚫", no_bell: "🔕", large_yellow_circle: "🟡", key: "🔑", bar_chart: "📊",
  arrow_forward: "▶️", alarm_clock: "⏰", wave: "👋", phone: "☎️", bell: "🔔",
  information_source: "ℹ️", heavy_check_mark: "✔️", hourglass_flowing_sand: "⏳",
  iphone: "📱", memo: "📝", mag: "🔍", busts_in_silhouette: "👥", clipboard: "📋",
  outbox_tray: "📤", inbox_tray: "📥", lock: "🔒", tada: "🎉", large_orange_circle: "🟠",
  black_square_for_stop: "⏹️", arrows_counterclockwise: "🔄", pushpin: "📌", bust_in_silhouette: "👤",
};
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const state = {
  me: localStorage.getItem("voicebot.me") || "",
  where: localStorage.getItem("voicebot.where") || "C0SALES",
  snap: null,
  modalKey: "",
  busy: 0,
  seen: {},
};

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, body) {
  state.busy += 1;
  document.body.classList.add("busy");
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return await response.json().catch(() => ({}));
  } finally {
    state.busy -= 1;
    if (!state.busy) document.body.classList.remove("busy");
  }
}

const escapeHtml = (text) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const unescapeSlack = (text) =>
  text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function personName(id) {
  const person = (state.snap?.people || []).find((p) => p.id === id);
  return person ? person.name : id;
}
function channelName(id) {
  const channel = (state.snap?.channels || []).find((c) => c.id === id);
  return channel ? channel.name : id;
}

// ---------------------------------------------------------------- dates, as <!date^…> shows them

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}
function dayDiff(date) {
  const fmt = (d) => d.toLocaleDateString("en-CA", { timeZone: ZONE });
  const a = new Date(fmt(date)), b = new Date(fmt(new Date()));
  return Math.round((a - b) / 86400000);
}
function formatDate(epoch, format) {
  const date = new Date(epoch * 1000);
  const opt = (o) => date.toLocaleString("en-US", { timeZone: ZONE, ...o });
  const parts = {
    date_num: date.toLocaleDateString("en-CA", { timeZone: ZONE }),
    date: `${opt({ month: "long" })} ${ordinal(+opt({ day: "numeric" }))}, ${opt({ year: "numeric" })}`,
    date_short: opt({ month: "short", day: "numeric", year: "numeric" }),
    date_long: `${opt({ weekday: "long" })}, ${opt({ month: "long" })} ${ordinal(+opt({ day: "numeric" }))}, ${opt({ year: "numeric" })}`,
    time: opt({ hour: "numeric", minute: "2-digit" }),
    time_secs: opt({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
  };
  const pretty = (fallback) => {
    const diff = dayDiff(date);
    return { 0: "today", 1: "tomorrow", "-1": "yesterday" }[diff] || fallback;
  };
  parts.date_pretty = pretty(parts.date);
  parts.date_short_pretty = pretty(parts.date_short);
  parts.date_long_pretty = pretty(parts.date_long);
  const seconds = Math.round((Date.now() - date) / 1000);
  const span = Math.abs(seconds);
  const unit = span < 60 ? [span, "second"] : span < 3600 ? [Math.round(span / 60), "minute"]
    : span < 86400 ? [Math.round(span / 3600), "hour"] : [Math.round(span / 86400), "day"];
  const amount = `${unit[0]} ${unit[1]}${unit[0] === 1 ? "" : "s"}`;
  parts.ago = seconds >= 0 ? `${amount} ago` : `in ${amount}`;
  return format.replace(/\{(\w+)\}/g, (whole, key) => parts[key] ?? whole);
}

// ---------------------------------------------------------------- mrkdwn

function token(inner) {
  let [target, label] = inner.split(/\|(.*)/s);
  if (target.startsWith("@")) {
    return `<span class="mention">@${escapeHtml(label || personName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention">#${escapeHtml(label || channelName(target.slice(1)))}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, epoch, format, link] = target.split("^");
    const shown = escapeHtml(formatDate(Number(epoch), format || "{date_short} {time}"));
    return `<time title="${escapeHtml(ZONE)}" data-epoch="${epoch}">${
      link ? `<a href="${escapeHtml(link)}">${shown}</a>` : shown}</time>`;
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">@${escapeHtml(label || "group")}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
  const url = unescapeSlack(target);
  if (!/^(https?|mailto|tel):/i.test(url)) return escapeHtml(unescapeSlack(`<${inner}>`));
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener">${escapeHtml(unescapeSlack(label || target))}</a>`;
}

function inline(text) {
  return text
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(>])\*(\S[^\n]*?\S|\S)\*(?=$|[\s).,!?:;<&])/g, "$1<b>$2</b>")
    .replace(/(^|[\s(>])_([^_\n]+)_(?=$|[\s).,!?:;<])/g, "$1<i>$2</i>")
    .replace(/(^|[\s(>])~([^~\n]+)~(?=$|[\s).,!?:;<])/g, "$1<s>$2</s>")
    .replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function mrkdwn(text) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let source = String(text ?? "").replace(/```([\s\S]*?)```/g, (_, code) =>
    hold(`<pre>${escapeHtml(unescapeSlack(code))}</pre>`));
  source = source.replace(/<([^<>]+)>/g, (_, inner) => hold(token(inner)));
  const lines = escapeHtml(unescapeSlack(source)).split("\n").map((line) =>
    line.startsWith("&gt; ") ? `<blockquote>${inline(line.slice(5))}</blockquote>` : inline(line));
  return lines.join("<br>").replace(/<\/blockquote><br>/g, "</blockquote>")
    .replace(/\u0000(\d+)\u0000/g, (_, i) => held[+i]);
}

function textNode(obj, tag = "span", cls = "") {
  if (!obj) return null;
  const html = obj.type === "mrkdwn" ? mrkdwn(obj.text)
    : escapeHtml(obj.text || "").replace(/:([a-z0-9_+-]+):/g, (w, n) => (obj.emoji === false ? w : EMOJI[n] || w));
  return h(tag, { class: `${cls} ${obj.type === "mrkdwn" ? "mrkdwn" : "plain"}`.trim(), html });
}
const plain = (obj) => (obj ? unescapeSlack(obj.text || "") : "");

// ---------------------------------------------------------------- interactive elements

function actionPayload(element, blockId, extra) {
  return { type: element.type, action_id: element.action_id, block_id: blockId, ...extra };
}

async function confirmFirst(confirm) {
  if (!confirm) return true;
  return new Promise((resolve) => {
    const close = (answer) => { overlay.remove(); resolve(answer); };
    const overlay = h("div", { class: "overlay confirm" },
      h("div", { class: "dialog", role: "dialog" },
        h("h2", {}, plain(confirm.title) || "Are you sure?"),
        textNode(confirm.text, "div", "body"),
        h("div", { class: "buttons" },
          h("button", { class: "secondary", onclick: () => close(false) }, plain(confirm.deny) || "Cancel"),
          h("button", { class: confirm.style === "danger" ? "danger" : "primary", onclick: () => close(true) },
            plain(confirm.confirm) || "Yes"))));
    document.body.append(overlay);
  });
}

function optionLabel(option) { return plain(option.text); }

function element(el, blockId, ctx, { input = false } = {}) {
  // ctx.send(action) fires a block action; inputs in a modal keep their value for submit.
  const fire = async (extra, confirm) => {
    if (input && !el.dispatch_action) return;
    if (!(await confirmFirst(confirm ?? el.confirm))) return;
    ctx.send(actionPayload(el, blockId, extra));
  };
  const data = { "data-action": el.action_id || "", "data-type": el.type };
  switch (el.type) {
    case "button": {
      const props = { ...data, class: `btn ${el.style || ""}`, "data-value": el.value || "" };
      if (el.url) return h("a", { ...props, href: el.url, target: "_blank" }, plain(el.text));
      return h("button", { ...props, onclick: (e) => {
        e.preventDefault();
        fire({ value: el.value || "", text: el.text });
      } }, plain(el.text));
    }
    case "static_select": case "external_select": {
      const options = el.option_groups ? el.option_groups.flatMap((g) => g.options) : el.options || [];
      const select = h("select", { ...data, class: "select", onchange: () => {
        const option = options.find((o) => o.value === select.value);
        fire({ selected_option: option ? { text: option.text, value: option.value } : null });
      } }, h("option", { value: "" }, plain(el.placeholder) || "Select an item"),
      options.map((o) => h("option", { value: o.value, selected: el.initial_option?.value === o.value }, optionLabel(o))));
      return select;
    }
    case "multi_static_select": {
      const select = h("select", { ...data, multiple: true, class: "select" },
        (el.options || []).map((o) => h("option", { value: o.value,
          selected: (el.initial_options || []).some((i) => i.value === o.value) }, optionLabel(o))));
      return select;
    }
    case "users_select": case "conversations_select": case "channels_select": {
      const list = el.type === "users_select" ? state.snap.people : state.snap.channels;
      const key = { users_select: "selected_user", conversations_select: "selected_conversation",
        channels_select: "selected_channel" }[el.type];
      const initial = el.initial_user || el.initial_conversation || el.initial_channel;
      const select = h("select", { ...data, class: "select", onchange: () => fire({ [key]: select.value }) },
        h("option", { value: "" }, plain(el.placeholder) || "Select"),
        list.map((x) => h("option", { value: x.id, selected: x.id === initial },
          el.type === "users_select" ? `@${x.name}` : `#${x.name}`)));
      return select;
    }
    case "overflow": {
      const menu = h("div", { class: "menu hidden" }, (el.options || []).map((o) =>
        h("button", { class: "menu-item", "data-value": o.value, onclick: () => {
          menu.classList.add("hidden");
          fire({ selected_option: { text: o.text, value: o.value } });
        } }, optionLabel(o))));
      return h("span", { class: "overflow", ...data },
        h("button", { class: "btn icon", title: "More actions", onclick: () => menu.classList.toggle("hidden") }, "⋮"), menu);
    }
    case "datepicker": {
      const picker = h("input", { ...data, type: "date", value: el.initial_date || "",
        onchange: () => fire({ selected_date: picker.value }) });
      return picker;
    }
    case "timepicker": {
      const picker = h("input", { ...data, type: "time", value: el.initial_time || "",
        onchange: () => fire({ selected_time: picker.value }) });
      return picker;
    }
    case "datetimepicker": {
      let initial = "";
      if (el.initial_date_time) {
        const d = new Date(el.initial_date_time * 1000);
        initial = new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      }
      const picker = h("input", { ...data, type: "datetime-local", value: initial,
        onchange: () => fire({ selected_date_time: Math.floor(new Date(picker.value) / 1000) }) });
      return picker;
    }
    case "checkboxes": case "radio_buttons": {
      const kind = el.type === "checkboxes" ? "checkbox" : "radio";
      const name = `${blockId}-${el.action_id}-${Math.random().toString(36).slice(2)}`;
      const box = h("div", { ...data, class: "choices" }, (el.options || []).map((o) => {
        const checked = kind === "checkbox" ? (el.initial_options || []).some((i) => i.value === o.value)
          : el.initial_option?.value === o.value;
        return h("label", { class: "choice" },
          h("input", { type: kind, name, value: o.value, checked, onchange: () => {
            const picked = [...box.querySelectorAll("input:checked")].map((i) =>
              (el.options || []).find((x) => x.value === i.value));
            fire(kind === "checkbox" ? { selected_options: picked }
              : { selected_option: picked[0] || null });
          } }),
          h("span", {}, textNode(o.text), o.description ? textNode(o.description, "small", "hint") : null));
      }));
      return box;
    }
    case "plain_text_input": case "number_input": case "email_text_input": case "url_text_input": {
      const type = { number_input: "number", email_text_input: "email", url_text_input: "url" }[el.type] || "text";
      const attrs = { ...data, placeholder: plain(el.placeholder), maxlength: el.max_length };
      if (el.multiline) return h("textarea", { ...attrs, rows: 4 }, el.initial_value || "");
      return h("input", { ...attrs, type, value: el.initial_value || "", step: el.is_decimal_allowed ? "any" : undefined });
    }
    case "file_input":
      return h("input", { ...data, type: "file", multiple: (el.max_files || 1) > 1,
        accept: (el.filetypes || []).map((t) => `.${t}`).join(",") || undefined });
    case "image":
      return h("img", { class: "accessory-image", src: el.image_url, alt: el.alt_text || "" });
    default:
      return h("span", { class: "unknown" }, `[${el.type}]`);
  }
}

// Read an input element's state the way Slack puts it in view.state.values.
async function readInput(node, el) {
  const type = el.type;
  if (type === "plain_text_input" || type === "email_text_input" || type === "url_text_input" || type === "number_input") {
    return { type, value: node.value === "" ? null : node.value };
  }
  if (type === "static_select" || type === "external_select") {
    const all = el.option_groups ? el.option_groups.flatMap((g) => g.options) : el.options || [];
    const option = all.find((o) => o.value === node.value);
    return { type, selected_option: option ? { text: option.text, value: option.value } : null };
  }
  if (type === "multi_static_select") {
    const values = [...node.selectedOptions].map((o) => o.value);
    return { type, selected_options: (el.options || []).filter((o) => values.includes(o.value)) };
  }
  if (type === "users_select") return { type, selected_user: node.value || null };
  if (type === "conversations_select") return { type, selected_conversation: node.value || null };
  if (type === "channels_select") return { type, selected_channel: node.value || null };
  if (type === "checkboxes" || type === "radio_buttons") {
    const picked = [...node.querySelectorAll("input:checked")].map((i) => (el.options || []).find((o) => o.value === i.value));
    return type === "checkboxes" ? { type, selected_options: picked } : { type, selected_option: picked[0] || null };
  }
  if (type === "datepicker") return { type, selected_date: node.value || null };
  if (type === "timepicker") return { type, selected_time: node.value || null };
  if (type === "datetimepicker") {
    return { type, selected_date_time: node.value ? Math.floor(new Date(node.value) / 1000) : null };
  }
  if (type === "file_input") {
    const files = [];
    for (const file of node.files || []) {
      const form = new FormData();
      form.append("file", file, file.name);
      const response = await fetch("/local/upload", { method: "POST", body: form });
      files.push(await response.json());
    }
    return { type, files };
  }
  return { type };
}

// ---------------------------------------------------------------- blocks

function blocks(list, ctx) {
  return h("div", { class: "blocks" }, (list || []).map((block, i) => renderBlock(block, block.block_id || `b${i}`, ctx)));
}

function renderBlock(block, blockId, ctx) {
  const data = { "data-block": blockId, "data-block-type": block.type };
  switch (block.type) {
    case "header":
      return h("div", { ...data, class: "block header" }, textNode(block.text, "h3"));
    case "section": {
      const accessory = block.accessory ? h("div", { class: "accessory" }, element(block.accessory, blockId, ctx)) : null;
      return h("div", { ...data, class: "block section" },
        h("div", { class: "section-body" },
          block.text ? textNode(block.text, "div", "section-text") : null,
          block.fields ? h("div", { class: "fields" }, block.fields.map((f) => textNode(f, "div", "field"))) : null),
        accessory);
    }
    case "context":
      return h("div", { ...data, class: "block context" }, (block.elements || []).map((e) =>
        e.type === "image" ? h("img", { src: e.image_url, alt: e.alt_text || "" }) : textNode(e)));
    case "divider":
      return h("hr", { ...data, class: "block divider" });
    case "image":
      return h("figure", { ...data, class: "block image" },
        block.title ? textNode(block.title, "figcaption") : null,
        h("img", { src: block.image_url || block.slack_file?.url, alt: block.alt_text || "" }));
    case "actions":
      return h("div", { ...data, class: "block actions" }, (block.elements || []).map((e) => element(e, blockId, ctx)));
    case "input": {
      const node = element(block.element, blockId, ctx, { input: true });
      return h("div", { ...data, class: "block input", "data-action": block.element.action_id },
        h("label", {}, plain(block.label), block.optional ? h("span", { class: "optional" }, " (optional)") : null),
        node,
        block.hint ? textNode(block.hint, "div", "hint") : null,
        h("div", { class: "error" }));
    }
    case "rich_text":
      return h("div", { ...data, class: "block section" }, (block.elements || []).map((e) =>
        h("div", {}, (e.elements || []).map((x) => x.text || ""))));
    default:
      return h("div", { ...data, class: "block unknown" }, `[${block.type} block]`);
  }
}

// ---------------------------------------------------------------- the page

function shell() {
  const app = document.getElementById("app");
  app.replaceChildren(
    h("aside", { class: "sidebar" },
      h("div", { class: "workspace" }, "voicebot", h("small", {}, "local Slack")),
      h("label", { class: "acting" }, "Acting as",
        h("select", { id: "me", onchange: (e) => switchUser(e.target.value) })),
      h("nav", { id: "nav" })),
    h("main", { class: "main" },
      h("header", { class: "topbar" }, h("h1", { id: "title" }), h("span", { id: "purpose" })),
      h("section", { id: "messages", class: "messages" }),
      h("form", { id: "composer", class: "composer", onsubmit: send },
        h("div", { id: "hints", class: "hints" }),
        h("textarea", { id: "text", rows: 1, placeholder: "Type a slash command, e.g. /c2c 9876543210", autocomplete: "off",
          oninput: hints, onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(e); } } }),
        h("button", { class: "btn primary", type: "submit", id: "send" }, "Send"))),
    h("aside", { class: "panel" },
      h("h2", {}, "Sandbox"),
      h("p", { class: "muted" }, "What would happen on the phone network. No phone rings."),
      h("form", { id: "incoming", class: "control", onsubmit: incoming },
        h("h3", {}, "An incoming call"),
        h("label", {}, "From", h("input", { name: "caller", value: "9812345678" })),
        h("label", {}, "To agent", h("input", { name: "agent", value: "9876543210" })),
        h("label", {}, "Outcome", h("select", { name: "outcome" },
          h("option", { value: "missed" }, "missed"), h("option", { value: "answered" }, "answered"))),
        h("button", { class: "btn", type: "submit" }, "Ring the team line"),
        h("div", { class: "result" })),
      h("form", { id: "incident", class: "control", onsubmit: incident },
        h("h3", {}, "Voice network"),
        h("label", {}, "Region", h("select", { name: "region", id: "regions" })),
        h("label", {}, "State", h("select", { name: "type" },
          ["critical", "warning", "operational", "clear"].map((t) => h("option", { value: t }, t)))),
        h("button", { class: "btn", type: "submit" }, "Change it"),
        h("div", { class: "result" })),
      h("h3", {}, "What the phone said"),
      h("ul", { id: "notices", class: "notices" })),
    h("div", { id: "modals" }));
}

function switchUser(user) {
  state.me = user;
  localStorage.setItem("voicebot.me", user);
  state.modalKey = "";
  refresh();
}
function go(where) {
  state.where = where;
  localStorage.setItem("voicebot.where", where);
  if (where === "home") api("/local/home", { user: state.me });
  draw();
}

function draw() {
  const snap = state.snap;
  if (!snap) return;
  const me = document.getElementById("me");
  me.replaceChildren(...snap.people.map((p) => h("option", { value: p.id, selected: p.id === snap.me },
    `@${p.name}${snap.admins.includes(p.id) ? " (admin)" : ""}`)));
  state.seen[state.where] = (snap.messages[state.where] || []).length;
  const unread = (id) => Math.max(0, (snap.messages[id] || []).length - (state.seen[id] || 0));
  const item = (where, label, extra) => h("a", { href: "#", class: `nav-item ${state.where === where ? "active" : ""}`,
    "data-where": where, onclick: (e) => { e.preventDefault(); go(where); } }, label, extra);
  document.getElementById("nav").replaceChildren(...[
    h("div", { class: "nav-title" }, "Channels"),
    snap.channels.map((c) => item(c.id, `# ${c.name}`, unread(c.id) ? h("span", { class: "count" }, unread(c.id)) : null)),
    h("div", { class: "nav-title" }, "Apps"),
    item(snap.dm, "voicebot · Messages", unread(snap.dm) ? h("span", { class: "count" }, unread(snap.dm)) : null),
    item("home", "voicebot · Home")].flat());
  const regions = document.getElementById("regions");
  if (!regions.children.length) {
    regions.replaceChildren(...Object.entries(snap.regions).map(([code, name]) => h("option", { value: code }, name)));
  }
  document.getElementById("notices").replaceChildren(...snap.notices.slice().reverse().map((n) => h("li", {}, n)));
  const channel = snap.channels.find((c) => c.id === state.where);
  const title = state.where === "home" ? "voicebot · Home" : channel ? `# ${channel.name}` : "voicebot";
  document.getElementById("title").textContent = title;
  document.getElementById("purpose").textContent = channel ? channel.purpose
    : state.where === "home" ? "The App Home tab" : "Your direct messages with the app";
  document.getElementById("composer").classList.toggle("hidden", state.where === "home");
  drawMessages();
  drawModal();
}

function drawMessages() {
  const snap = state.snap;
  const box = document.getElementById("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  if (state.where === "home") {
    const home = snap.home;
    box.replaceChildren(h("div", { class: "home", "data-view": home?.id || "" },
      home ? blocks(home.blocks, viewCtx(home)) : h("p", { class: "muted" }, "Opening App Home…")));
    return;
  }
  const list = snap.messages[state.where] || [];
  box.replaceChildren(...(list.length ? list.map(message) : [h("p", { class: "muted empty" },
    "Nothing here yet. Try /c2c help, or /c2c register 9876543210 then /c2c 9123456789.")]));
  if (atBottom || state.scrollDown) box.scrollTop = box.scrollHeight;
  state.scrollDown = false;
}

function timeOf(at) {
  return new Date(at * 1000).toLocaleTimeString("en-US", { timeZone: ZONE, hour: "numeric", minute: "2-digit" });
}

function message(m) {
  const bot = m.author === "voicebot";
  const ctx = {
    send: (action) => api("/local/action", { user: state.me, where: { kind: "message", channel: m.channel, ts: m.ts },
      action, values: {} }),
  };
  const shortcuts = h("div", { class: "menu hidden" },
    h("button", { class: "menu-item", "data-shortcut": "call_this_number", onclick: () => {
      shortcuts.classList.add("hidden");
      api("/local/shortcut", { user: state.me, channel: m.channel, ts: m.ts, callback_id: "call_this_number" });
    } }, "📞 Call this number"));
  return h("article", { class: `message ${m.ephemeral ? "ephemeral" : ""}`, "data-ts": m.ts },
    h("div", { class: `avatar ${bot ? "bot" : ""}` }, bot ? "📞" : personName(m.author).slice(0, 1).toUpperCase()),
    h("div", { class: "message-body" },
      h("div", { class: "meta" }, h("b", {}, bot ? "voicebot" : personName(m.author)),
        bot ? h("span", { class: "app" }, "APP") : null,
        h("time", { title: ZONE }, timeOf(m.at)), m.edited ? h("span", { class: "muted" }, "(edited)") : null,
        h("span", { class: "shortcut-menu" },
          h("button", { class: "btn icon more", title: "More actions", onclick: () => shortcuts.classList.toggle("hidden") }, "⋯"),
          shortcuts)),
      m.blocks?.length ? blocks(m.blocks, ctx) : h("div", { class: "mrkdwn", html: mrkdwn(m.text) }),
      m.ephemeral ? h("div", { class: "only-you" }, "👁 Only visible to you") : null));
}

function viewCtx(view) {
  return {
    send: async (action) => api("/local/action", { user: state.me, where: { kind: "view", view_id: view.id },
      action, values: await collect(document.querySelector(`[data-view="${view.id}"]`), view, false) }),
  };
}

async function collect(root, view, withFiles = true) {
  const values = {};
  if (!root) return values;
  for (const [i, block] of (view.blocks || []).entries()) {
    if (block.type !== "input") continue;
    const blockId = block.block_id || `b${i}`;
    const node = root.querySelector(`[data-block="${CSS.escape(blockId)}"] [data-type]`);
    if (!node) continue;
    if (block.element.type === "file_input" && !withFiles) continue;
    values[blockId] = { [block.element.action_id]: await readInput(node, block.element) };
  }
  return values;
}

function drawModal() {
  const root = document.getElementById("modals");
  const stack = state.snap.modals || [];
  const top = stack[stack.length - 1];
  const key = top ? `${top.id}:${JSON.stringify(top)}` : "";
  if (key === state.modalKey) return;
  state.modalKey = key;
  if (!top) { root.replaceChildren(); return; }
  const submit = async (e) => {
    e.preventDefault();
    const dialog = root.querySelector(".modal");
    dialog.querySelectorAll(".error").forEach((n) => { n.textContent = ""; });
    const answer = await api("/local/submit", { user: state.me, view_id: top.id, values: await collect(dialog, top) });
    for (const [blockId, problem] of Object.entries(answer.errors || {})) {
      const slot = dialog.querySelector(`[data-block="${CSS.escape(blockId)}"] .error`);
      if (slot) slot.textContent = problem;
    }
  };
  const close = () => api("/local/close", { user: state.me, view_id: top.id });
  root.replaceChildren(h("div", { class: "overlay" },
    h("form", { class: "modal", "data-view": top.id, "data-callback": top.callback_id || "", onsubmit: submit },
      h("header", {}, stack.length > 1 ? h("button", { type: "button", class: "btn icon", title: "Back", onclick: close }, "‹") : null,
        h("h2", {}, plain(top.title)), h("button", { type: "button", class: "btn icon close", title: "Close", onclick: close }, "✕")),
      h("div", { class: "modal-body" }, blocks(top.blocks, viewCtx(top))),
      h("footer", {},
        h("button", { type: "button", class: "btn secondary", onclick: close }, plain(top.close) || "Cancel"),
        top.submit ? h("button", { type: "submit", class: "btn primary", "data-submit": "1" }, plain(top.submit)) : null))));
}

// ---------------------------------------------------------------- composer

function hints() {
  const text = document.getElementById("text").value;
  const box = document.getElementById("hints");
  if (!text.startsWith("/") || text.includes(" ")) {
    const [command] = text.split(" ");
    const known = (state.snap?.commands || []).find((c) => c.command === command);
    box.replaceChildren(...(known ? [h("div", { class: "hint-line" }, h("b", {}, known.command), " ", known.usage_hint)] : []));
    return;
  }
  const matches = (state.snap?.commands || []).filter((c) => c.command.startsWith(text));
  box.replaceChildren(...matches.map((c) => h("button", { type: "button", class: "hint-line", onclick: () => {
    const input = document.getElementById("text");
    input.value = `${c.command} `;
    input.focus();
    hints();
  } }, h("b", {}, c.command), " ", c.usage_hint, h("div", { class: "muted" }, c.description))));
}

async function send(e) {
  e.preventDefault();
  const input = document.getElementById("text");
  const text = input.value.trim();
  if (!text || state.where === "home") return;
  input.value = "";
  hints();
  state.scrollDown = true;
  if (text.startsWith("/")) await api("/local/command", { user: state.me, channel: state.where, text });
  else await api("/local/say", { user: state.me, channel: state.where, text });
}

async function incoming(e) {
  e.preventDefault();
  const form = e.target;
  const answer = await api("/local/sandbox/incoming", Object.fromEntries(new FormData(form)));
  form.querySelector(".result").textContent = answer.error ? `Not a call the sandbox can take: ${answer.error}`
    : "Rang. The #calls channel shows it.";
}

async function incident(e) {
  e.preventDefault();
  const form = e.target;
  const answer = await api("/local/sandbox/incident", Object.fromEntries(new FormData(form)));
  form.querySelector(".result").textContent = answer.error || (answer.changes
    ? "Changed. Alerts go to #ops; /voicehealth shows it." : "No change to report.");
}

// ---------------------------------------------------------------- live updates

async function refresh() {
  const query = new URLSearchParams({ user: state.me, tz: ZONE });
  const response = await fetch(`/local/state?${query}`);
  state.snap = await response.json();
  if (!state.me) state.me = state.snap.me;
  document.body.dataset.version = state.snap.version;
  draw();
}

function listen() {
  const events = new EventSource("/local/events");
  events.onmessage = () => refresh();
}

shell();
refresh().then(() => { if (state.where === "home") go("home"); listen(); });

// The emoji picker: every emoji, searchable by name (English and German), recently used
// first, in the skin tone the user chose. One picker serves the composer (insert) and a
// message's reactions (react); it floats by the button that opened it, and its data is
// fetched the first time it opens (emoji.js).
import { button, el } from "./dom.js";
import {
  loadEmoji,
  recentEmoji,
  rememberEmoji,
  searchEmoji,
  setSkinTone,
  skinTone,
  withTone,
} from "./emoji.js";
import { t } from "./i18n.js";

// The grid's width in emoji (the CSS lays it out so), for moving up and down.
const COLUMNS = 8;
const TONE_NAMES = [
  "No skin tone",
  "Light skin tone",
  "Medium-light skin tone",
  "Medium skin tone",
  "Medium-dark skin tone",
  "Dark skin tone",
];
const TONE_SAMPLES = ["✋", "✋🏻", "✋🏼", "✋🏽", "✋🏾", "✋🏿"];
const GAP_PX = 4;

export class EmojiPicker {
  #node;
  #search;
  #tone;
  #status;
  #grid;
  // The loaded entries, and each emoji (skin-tone forms included) → its entry.
  #entries = null;
  #byEmoji = new Map();
  // The "All emoji" section as last built: {tone, nodes}.
  #all = null;
  // What the open picker is for: {anchor, onPick}, or null when closed.
  #open = null;

  constructor() {
    this.#node = el("div", "emoji-picker");
    this.#node.id = "emoji-picker";
    this.#node.setAttribute("role", "dialog");
    this.#node.hidden = true;
    this.#search = el("input", "emoji-search");
    this.#search.type = "search";
    this.#search.autocomplete = "off";
    this.#search.placeholder = t("Search emoji");
    this.#search.setAttribute("aria-label", t("Search emoji"));
    this.#search.setAttribute("aria-controls", "emoji-grid");
    this.#tone = el("select", "emoji-tone");
    this.#tone.setAttribute("aria-label", t("Skin tone"));
    TONE_NAMES.forEach((name, tone) => {
      const option = el("option", "", `${TONE_SAMPLES[tone]} ${t(name)}`);
      option.value = String(tone);
      this.#tone.append(option);
    });
    const head = el("div", "emoji-picker-head");
    head.append(this.#search, this.#tone);
    this.#status = el("p", "emoji-status");
    this.#status.setAttribute("role", "status");
    this.#grid = el("div", "emoji-grid");
    this.#grid.id = "emoji-grid";
    this.#node.append(head, this.#status, this.#grid);
    document.body.append(this.#node);
    this.#bind();
  }

  get isOpen() {
    return this.#open !== null;
  }

  /**
   * Opens the picker by `anchor` (a button, whose aria-expanded it keeps), titled `label`;
   * `onPick(emoji)` is called with the emoji picked, after the picker closed. Opening it
   * again from the same button closes it.
   */
  toggle(anchor, { label, onPick }) {
    if (this.#open?.anchor === anchor) {
      this.close({ refocus: true });
      return;
    }
    this.close();
    this.#open = { anchor, onPick };
    // A message's node anchors it when its menu (messagemenu.js) asked: no popup button.
    if (anchor.hasAttribute("aria-haspopup")) anchor.setAttribute("aria-expanded", "true");
    this.#node.setAttribute("aria-label", label);
    this.#search.value = "";
    this.#tone.value = String(skinTone());
    this.#node.hidden = false;
    this.#place();
    this.#search.focus();
    this.#render();
  }

  close({ refocus = false } = {}) {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    this.#node.hidden = true;
    this.#grid.replaceChildren();
    if (open.anchor.hasAttribute("aria-haspopup")) open.anchor.setAttribute("aria-expanded", "false");
    if (refocus && open.anchor.isConnected) open.anchor.focus();
  }

  /** Fixed by the anchor: above it when there is room, else below; inside the window. */
  #place() {
    const box = this.#open.anchor.getBoundingClientRect();
    const { offsetWidth: width, offsetHeight: height } = this.#node;
    const above = box.top - height - GAP_PX;
    const top = above >= 0 ? above : Math.min(box.bottom + GAP_PX, innerHeight - height);
    const left = Math.min(Math.max(box.right - width, GAP_PX), innerWidth - width - GAP_PX);
    this.#node.style.top = `${Math.max(top, 0)}px`;
    this.#node.style.left = `${Math.max(left, 0)}px`;
  }

  async #render() {
    if (!this.#entries) {
      this.#status.textContent = t("Loading emoji…");
      try {
        this.#entries = await loadEmoji();
      } catch (error) {
        this.#status.textContent = t("Could not load the emoji: %s", error.message);
        return;
      }
      for (const entry of this.#entries) {
        this.#byEmoji.set(entry.emoji, entry);
        for (const toned of entry.tones) this.#byEmoji.set(toned, entry);
      }
      if (!this.#open) return;
    }
    const query = this.#search.value.trim();
    const tone = Number(this.#tone.value);
    const sections = [];
    if (query) {
      const found = searchEmoji(this.#entries, query);
      const items = found.map((entry) => [withTone(entry, tone), entry]);
      sections.push(this.#section("results", t("Search results"), items));
      this.#status.textContent = found.length
        ? t("%s emoji found", found.length)
        : t("No emoji found.");
    } else {
      const recent = recentEmoji()
        .filter((emoji) => this.#byEmoji.has(emoji))
        .map((emoji) => [emoji, this.#byEmoji.get(emoji)]);
      if (recent.length) sections.push(this.#section("recent", t("Recently used"), recent));
      sections.push(this.#everyEmoji(tone));
      this.#status.textContent = "";
    }
    this.#grid.replaceChildren(...sections.flat());
    for (const option of this.#grid.querySelectorAll('.emoji-option[tabindex="0"]')) {
      option.tabIndex = -1;
    }
    const first = this.#grid.querySelector(".emoji-option");
    if (first) first.tabIndex = 0;
  }

  /** The "All emoji" section, built once per skin tone: ~1,900 buttons are not free. */
  #everyEmoji(tone) {
    if (this.#all?.tone !== tone) {
      const items = this.#entries.map((entry) => [withTone(entry, tone), entry]);
      this.#all = { tone, nodes: this.#section("all", t("All emoji"), items) };
    }
    return this.#all.nodes;
  }

  /** A section's heading and its group of emoji buttons. */
  #section(name, title, items) {
    const heading = el("h3", "emoji-section-title", title);
    heading.id = `emoji-section-${name}`;
    const group = el("div", "emoji-section");
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", heading.id);
    group.append(...items.map(([emoji, entry]) => this.#option(emoji, entry)));
    return [heading, group];
  }

  #option(emoji, entry) {
    const option = button("emoji-option", emoji);
    option.dataset.emoji = emoji;
    option.tabIndex = -1;
    option.title = `${entry.name} :${entry.shortcode}:`;
    option.setAttribute("aria-label", entry.name);
    return option;
  }

  #pick(emoji) {
    const { onPick } = this.#open;
    rememberEmoji(emoji);
    this.close();
    onPick(emoji);
  }

  /** Arrow keys move among the emoji (roving focus); Up from the top row goes to the search. */
  #move(event) {
    if (modified(event)) return; // Alt+Up/Down still switch rooms
    const options = [...this.#grid.querySelectorAll(".emoji-option")];
    const index = options.indexOf(event.target);
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLUMNS, ArrowDown: COLUMNS };
    let next;
    if (event.key in steps) next = index + steps[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = options.length - 1;
    else return;
    event.preventDefault();
    if (next < 0) {
      this.#search.focus();
      return;
    }
    this.#focusOption(options, Math.min(next, options.length - 1));
  }

  #focusOption(options, index) {
    for (const option of options) option.tabIndex = -1;
    const option = options[index];
    if (!option) return;
    option.tabIndex = 0;
    option.focus();
  }

  #bind() {
    const node = this.#node;
    this.#search.addEventListener("input", () => this.#render());
    this.#search.addEventListener("keydown", (event) => {
      if (modified(event)) return;
      const options = [...this.#grid.querySelectorAll(".emoji-option")];
      if (event.key === "ArrowDown" && options.length) {
        event.preventDefault();
        this.#focusOption(options, 0);
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (this.#search.value.trim() && options.length) this.#pick(options[0].dataset.emoji);
      }
    });
    this.#tone.addEventListener("change", () => {
      setSkinTone(Number(this.#tone.value));
      this.#render();
    });
    this.#grid.addEventListener("keydown", (event) => {
      if (event.target.classList.contains("emoji-option")) this.#move(event);
    });
    this.#grid.addEventListener("click", (event) => {
      const option = event.target.closest(".emoji-option");
      if (option) this.#pick(option.dataset.emoji);
    });
    node.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.close({ refocus: true });
    });
    node.addEventListener("focusout", (event) => {
      const next = event.relatedTarget;
      if (next && !node.contains(next) && next !== this.#open?.anchor) this.close();
    });
    document.addEventListener("click", (event) => {
      const open = this.#open;
      // A target gone from the page was the button that opened the picker, replaced.
      if (open && event.target.isConnected && !node.contains(event.target) && !open.anchor.contains(event.target)) {
        this.close();
      }
    });
    window.addEventListener("resize", () => this.close());
  }
}

function modified(event) {
  return event.altKey || event.ctrlKey || event.metaKey;
}

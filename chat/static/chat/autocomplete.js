// Completion in the composer: `@` the open room's members (display name or username; inserts
// `@username`, which the server reads as a mention), `#` the user's rooms (inserts the
// room's name as plain text) and `:shortcode` emoji (inserts the emoji). The textarea
// keeps focus and points at the active suggestion (aria-activedescendant) of a listbox;
// Up/Down move, Enter or Tab take it, Esc closes the list.
import { listMembers } from "./api.js";
import { el } from "./dom.js";
import { loadEmoji, rememberEmoji, searchEmoji, skinTone, withTone } from "./emoji.js";
import { t } from "./i18n.js";

const LIMIT = 8;
// Members fetched for a room are reused for this long.
const MEMBERS_FRESH_MS = 60_000;
// The word before the caret that asks for suggestions: a trigger at the start of the text
// or after a space, then what was typed so far.
const TOKEN_RE = /(?:^|\s)([@#:])(\S*)$/u;
const QUERY_RE = { "@": /^[\w.+-]*$/u, "#": /^\S*$/u, ":": /^[\w+-]{2,}$/u };

export class Autocomplete {
  #input;
  #list;
  #ui;
  #store;
  #me;
  // roomId → {at, page: Promise<{members: [{user, role}], has_more}>}
  #members = new Map();
  // The open list: {start, end (of the token in the text), items, active}, or null.
  #open = null;
  // Answers to an older keystroke go unused.
  #generation = 0;

  /** `form` and `input` are the composer's; `ui` the UiState, `store` the Store, `me` the user. */
  constructor({ form, input }, { ui, store, me }) {
    this.#input = input;
    this.#ui = ui;
    this.#store = store;
    this.#me = me;
    this.#list = el("ul", "suggestions");
    this.#list.id = "composer-suggestions";
    this.#list.setAttribute("role", "listbox");
    this.#list.setAttribute("aria-label", t("Suggestions"));
    this.#list.hidden = true;
    input.before(this.#list);
    input.setAttribute("aria-autocomplete", "list");
    this.#bind(form);
  }

  get isOpen() {
    return this.#open !== null;
  }

  /** Forgets the members fetched for `roomId` (someone joined or left). */
  forgetMembers(roomId) {
    this.#members.delete(roomId);
  }

  close() {
    this.#generation += 1;
    this.#hide();
  }

  #hide() {
    this.#open = null;
    this.#list.hidden = true;
    this.#list.replaceChildren();
    this.#input.removeAttribute("aria-activedescendant");
    this.#input.removeAttribute("aria-controls");
  }

  async #update() {
    const input = this.#input;
    const caret = input.selectionStart;
    const match = input.selectionEnd === caret && TOKEN_RE.exec(input.value.slice(0, caret));
    const [, trigger, query] = match || [];
    if (!match || !QUERY_RE[trigger].test(query)) {
      this.close();
      return;
    }
    const generation = ++this.#generation;
    let items;
    try {
      items = await this.#suggest(trigger, query.toLowerCase());
    } catch {
      items = []; // members or emoji not reachable now: no list, typing goes on
    }
    if (generation !== this.#generation) return;
    // A name typed out in full needs no list (and Enter still sends).
    items = items.filter((item) => item.text.trimEnd() !== `${trigger}${query}`);
    if (!items.length) {
      this.#hide();
      return;
    }
    this.#open = { start: caret - query.length - 1, end: caret, items, active: 0 };
    this.#render();
  }

  /** The suggestions for `query` after `trigger`: [{key, label, detail, text, emoji?}]. */
  async #suggest(trigger, query) {
    if (trigger === "@") {
      const roomId = this.#ui.roomId;
      const page = await this.#roomMembers(roomId);
      // A room too large to list whole: the server finds the members whose names fit.
      const members = page.has_more && query ? (await listMembers(roomId, query)).members : page.members;
      return members
        .map(({ user }) => user)
        .filter((user) => user.id !== this.#me.id && matchesPerson(user, query))
        .sort((a, b) => rankPerson(b, query) - rankPerson(a, query))
        .slice(0, LIMIT)
        .map((user) => ({
          key: `u${user.id}`,
          label: user.display_name,
          detail: `@${user.username}`,
          text: `@${user.username} `,
        }));
    }
    if (trigger === "#") {
      return this.#store
        .memberRooms()
        .filter((room) => room.kind !== "direct" && room.name.toLowerCase().includes(query))
        .sort((a, b) => startsFirst(a.name, b.name, query))
        .slice(0, LIMIT)
        .map((room) => ({ key: `r${room.id}`, label: `#${room.name}`, text: `#${room.name} ` }));
    }
    const tone = skinTone();
    return searchEmoji(await loadEmoji(), query, LIMIT).map((entry) => {
      const emoji = withTone(entry, tone);
      return {
        key: `e${entry.shortcode}`,
        label: `${emoji} :${entry.shortcode}:`,
        detail: entry.name,
        text: emoji,
        emoji,
      };
    });
  }

  /** The room's first page of members ({members, has_more}), fetched once a minute at most. */
  #roomMembers(roomId) {
    const cached = this.#members.get(roomId);
    if (cached && Date.now() - cached.at < MEMBERS_FRESH_MS) return cached.page;
    const page = listMembers(roomId);
    page.catch(() => this.#members.delete(roomId));
    this.#members.set(roomId, { at: Date.now(), page });
    return page;
  }

  #render() {
    const { items, active } = this.#open;
    this.#list.replaceChildren(
      ...items.map((item, index) => {
        const option = el("li", "suggestion", item.label);
        option.id = `suggestion-${index}`;
        option.dataset.index = String(index);
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", String(index === active));
        if (item.detail) option.append(" ", el("span", "suggestion-detail", item.detail));
        return option;
      }),
    );
    this.#list.hidden = false;
    this.#input.setAttribute("aria-controls", this.#list.id);
    this.#input.setAttribute("aria-activedescendant", `suggestion-${active}`);
    this.#list.children[active].scrollIntoView({ block: "nearest" });
  }

  #pick(index) {
    const { start, end, items } = this.#open;
    const item = items[index];
    const input = this.#input;
    input.setRangeText(item.text, start, end, "end");
    if (item.emoji) rememberEmoji(item.emoji);
    this.close();
    input.focus();
    // Tells the composer (typing, drafts) that the text changed.
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  #bind(form) {
    const input = this.#input;
    input.addEventListener("input", () => this.#update());
    input.addEventListener("click", () => this.#update());
    input.addEventListener("blur", () => this.close());
    form.addEventListener("submit", () => this.close(), { capture: true });
    // On the form, capturing: before the composer's own keys (Enter sends, Esc drops the reply).
    form.addEventListener(
      "keydown",
      (event) => {
        if (event.target !== input || !this.#open || event.isComposing) return;
        if (event.altKey || event.ctrlKey || event.metaKey) return; // Alt+Up/Down: rooms
        const { items, active } = this.#open;
        const moves = { ArrowDown: 1, ArrowUp: items.length - 1 };
        if (event.key in moves) {
          this.#open.active = (active + moves[event.key]) % items.length;
          this.#render();
        } else if (event.key === "Enter" || event.key === "Tab") {
          if (event.shiftKey) return;
          this.#pick(active);
        } else if (event.key === "Escape") {
          this.close();
        } else {
          return;
        }
        event.preventDefault();
        event.stopPropagation();
      },
      { capture: true },
    );
    // A pointer picks too, without taking focus from the textarea.
    this.#list.addEventListener("mousedown", (event) => event.preventDefault());
    this.#list.addEventListener("click", (event) => {
      const option = event.target.closest(".suggestion");
      if (option && this.#open) this.#pick(Number(option.dataset.index));
    });
  }
}

function rankPerson(user, query) {
  if (user.username.toLowerCase().startsWith(query)) return 2;
  return user.display_name.toLowerCase().startsWith(query) ? 1 : 0;
}

function matchesPerson(user, query) {
  const words = user.display_name.toLowerCase().split(/\s+/u);
  return (
    user.username.toLowerCase().startsWith(query) || words.some((word) => word.startsWith(query))
  );
}

function startsFirst(a, b, query) {
  const rank = (name) => (name.toLowerCase().startsWith(query) ? 0 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}

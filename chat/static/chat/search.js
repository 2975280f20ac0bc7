// Message search: the form in the sidebar, the results in a panel over the conversation,
// paged on with "More results"; a result opens its message in its room (a thread reply,
// marked as one, its thread).
import { searchMessages } from "./api.js";
import { avatar, button, byId, el, whenFormat } from "./dom.js";
import { personButton, personFace } from "./profilecard.js";
import { t } from "./i18n.js";
import { messageBody } from "./message.js";

export class SearchPanel {
  #els;
  #ui;
  #store;
  #me;
  #on;
  // The search shown: its query, the one room searched (undefined: all the user's rooms),
  // how many results, the id to page on from, and a generation that makes answers to an
  // abandoned search go unused.
  #search = { query: "", room: undefined, count: 0, lastId: null, generation: 0 };
  // Result nodes → the message each shows.
  #results = new WeakMap();

  /**
   * `ui` is the UiState, `store` the Store; `on` holds the callbacks: openResult(message),
   * closeDrawer() (the results open over the drawer's search box).
   */
  constructor({ ui, store, me, on }) {
    this.#els = byId([
      "search-form", "search-input", "search-panel", "search-close", "search-status",
      "search-results", "search-more", "search-here",
    ]);
    this.#ui = ui;
    this.#store = store;
    this.#me = me;
    this.#on = on;
    this.#bind();
  }

  /** Closes the results (an answer still coming goes unused). */
  close() {
    this.#search.generation += 1;
    const panel = this.#els["search-panel"];
    if (panel.hidden) return;
    panel.hidden = true;
    this.#ui.searchOpen = false;
    this.#els["search-results"].replaceChildren();
  }

  /** Esc: closes the results, focus back in the search box; false when none were open. */
  closeByKey() {
    if (!this.#ui.searchOpen) return false;
    this.close();
    this.#els["search-input"].focus();
    return true;
  }

  async #run(query, { more = false, room } = {}) {
    this.#search.generation += 1;
    const generation = this.#search.generation;
    if (!more) {
      this.#search = { query, room: room ?? undefined, count: 0, lastId: null, generation };
      this.#start(t("Searching…"));
    }
    const search = this.#search;
    let page;
    try {
      const before = more ? search.lastId : undefined;
      page = await searchMessages(query, { room: search.room, before });
    } catch (error) {
      if (generation === this.#search.generation) {
        this.#problem(t("Search failed: %s", error.detail));
      }
      return;
    }
    if (generation !== this.#search.generation) return;
    const { results } = page;
    search.count += results.length;
    if (results.length) search.lastId = results[results.length - 1].id;
    let status = t("%s results for “%s”", search.count, query);
    if (search.count === 0) status = t("No messages match “%s”.", query);
    else if (search.count === 1) status = t("1 result for “%s”", query);
    this.#addResults(results, { hasMore: page.has_more && results.length > 0, status, more });
  }

  /** Opens the panel with a status line ("Searching…"), dropping the previous results. */
  #start(status) {
    const { "search-panel": panel, "search-results": list, "search-more": more } = this.#els;
    list.replaceChildren();
    more.hidden = true;
    this.#els["search-status"].textContent = status;
    panel.hidden = false;
    this.#ui.searchOpen = true;
    if (this.#ui.sidebarOpen) {
      // The drawer closes over the search box: keep focus where the results are.
      this.#on.closeDrawer();
      this.#els["search-close"].focus();
    }
  }

  /**
   * Adds a page of results. `hasMore` shows the "More results" button; after it was
   * used (`more`), focus goes to the first new result.
   */
  #addResults(results, { hasMore, status, more: focusFirst }) {
    const { "search-results": list, "search-more": more } = this.#els;
    const nodes = results.map((message) => this.#resultNode(message));
    list.append(...nodes);
    more.hidden = !hasMore;
    more.disabled = false;
    this.#els["search-status"].textContent = status;
    if (focusFirst && nodes.length) nodes[0].querySelector(".search-result-open").focus();
  }

  #problem(status) {
    const more = this.#els["search-more"];
    this.#els["search-status"].textContent = status;
    more.disabled = false;
    // Disabling the button while it loaded took focus away from it: give it back.
    if (!more.hidden && document.activeElement === document.body) more.focus();
  }

  #resultNode(message) {
    const room = this.#store.room(message.room);
    const roomName = room?.name ?? "";
    const li = el("li", "search-result");
    const open = button("search-result-open");
    const when = new Date(message.created_at);
    const time = el("time", "search-result-time", whenFormat.format(when));
    time.dateTime = when.toISOString();
    const { author } = message;
    // The author opens their card; the rest of the line opens the message.
    const who = el("span", "search-result-who");
    who.append(
      personFace(
        avatar(author.display_name, author.id, "search-result-avatar", author.avatar),
        author,
      ),
      personButton(author, "search-result-author"),
    );
    open.append(
      el("span", "search-result-room", room?.kind === "direct" ? roomName : `#${roomName}`),
      time,
    );
    open.title = t("Show this message in its room");
    if (message.thread_root) {
      open.append(el("span", "search-result-thread", t("In a thread")));
      open.title = t("Show this reply in its thread");
    }
    const head = el("div", "search-result-head");
    head.append(who, open);
    const text = el("div", "search-result-text");
    text.append(messageBody(message, this.#me));
    markWords(text, this.#search.query);
    li.append(head, text);
    this.#results.set(li, message);
    return li;
  }

  #bind() {
    const els = this.#els;
    els["search-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      const query = els["search-input"].value.trim();
      const room = els["search-here"].checked ? this.#ui.roomId : undefined;
      if (query) this.#run(query, { room });
    });
    els["search-input"].addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#ui.searchOpen) {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    els["search-panel"].addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.close();
      els["search-input"].focus();
    });
    els["search-close"].addEventListener("click", () => {
      this.close();
      els["search-input"].focus();
    });
    els["search-more"].addEventListener("click", () => {
      els["search-more"].disabled = true;
      this.#run(this.#search.query, { more: true });
    });
    els["search-results"].addEventListener("click", (event) => {
      // A link in a message's text opens the link, not the message; a name, its card.
      if (event.target.closest("a, [data-person]")) return;
      const li = event.target.closest("li.search-result");
      const message = li && this.#results.get(li);
      if (message) this.#on.openResult(message);
    });
  }
}

/**
 * Marks each word of search `query` where it appears in `node`'s text, in any case: the
 * words the server matched (a "-word" it excluded and OR are not marked).
 */
function markWords(node, query) {
  const words = query
    .split(/\s+/)
    .map((word) => word.replace(/^"+|"+$/g, ""))
    .filter((word) => word && !word.startsWith("-") && word !== "OR")
    .sort((a, b) => b.length - a.length)
    .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!words.length) return;
  const pattern = new RegExp(words.join("|"), "giu");
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const text of texts) {
    const value = text.nodeValue;
    const parts = [];
    let last = 0;
    for (const match of value.matchAll(pattern)) {
      parts.push(value.slice(last, match.index), el("mark", "search-hit", match[0]));
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    parts.push(value.slice(last));
    text.replaceWith(...parts);
  }
}

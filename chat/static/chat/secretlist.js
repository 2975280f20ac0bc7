// A members-panel list of things made with a secret URL shown once (invite links,
// webhooks; owners and admins): make one, copy its URL, see the live ones and revoke
// them. What it lists (the element ids' prefix, the API calls, its words, how one entry
// reads) comes from invites.js and webhooks.js; the server decides who may, and a
// refusal shows its reason here.
import { button, byId, el, reconcile } from "./dom.js";
import { t } from "./i18n.js";

export class SecretList {
  #els;
  #kind;
  // The room whose entries are shown (null: hidden), and a generation so answers for a
  // room no longer shown go unused.
  #room = null;
  #generation = 0;
  #entries = [];

  /**
   * `kind` names the elements (`${kind}s`, `${kind}-form`, `-new`, `-url`, `-copy`,
   * `${kind}s-error`, `${kind}s-status`, `${kind}-list`) and the entries' classes.
   * `kind` also holds: `list(room)` → entries, `create(room)` → the new one with its
   * `url`, `revoke(room, id)`, `describe(entry)` → {text: [nodes], label}, `listed(made)`
   * → the entry to show at the top (null: load the list again), `firstField` (focus
   * once the last entry is revoked), `reset()` (after a make), and `words` (loading,
   * loadFailed, none, count, createFailed, confirmRevoke, revokeFailed).
   */
  constructor(kind) {
    const p = kind.prefix;
    this.#kind = kind;
    this.#els = byId([
      `${p}s`, `${p}-form`, `${p}-new`, `${p}-url`, `${p}-copy`, `${p}s-error`, `${p}s-status`,
      `${p}-list`,
    ]);
    this.#bind();
  }

  #el(suffix) {
    return this.#els[`${this.#kind.prefix}${suffix}`];
  }

  /** Shows the entries of `roomId` when `manager` (loading them once per room), else hides them. */
  show(roomId, manager) {
    const room = manager ? roomId : null;
    this.#el("s").hidden = room === null;
    if (room === this.#room) return;
    this.#room = room;
    this.#entries = [];
    this.#el("-new").hidden = true;
    this.#el("-url").value = "";
    this.#showError(null);
    this.#draw();
    if (room !== null) this.#load();
  }

  /** The next `show` loads the entries afresh (the panel was opened again). */
  forget() {
    this.#room = null;
  }

  async #load() {
    const { words } = this.#kind;
    const room = this.#room;
    const generation = ++this.#generation;
    this.#el("s-status").textContent = t(words.loading);
    try {
      const entries = await this.#kind.list(room);
      if (generation !== this.#generation) return;
      this.#entries = entries;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#showError(t(words.loadFailed, error.detail));
    }
    this.#draw();
  }

  #draw() {
    const { words, prefix } = this.#kind;
    const count = this.#entries.length;
    this.#el("s-status").textContent = count === 0 ? t(words.none) : t(words.count, count);
    reconcile(
      this.#el("-list"),
      this.#entries.map((entry) => ({ key: String(entry.id), entry })),
      (item) => this.#fill(el("li", prefix), item.entry),
      (li, item) => this.#fill(li, item.entry),
    );
  }

  #fill(li, entry) {
    const signature = JSON.stringify(entry);
    if (li.dataset.signature === signature) return li;
    li.dataset.signature = signature;
    const { prefix } = this.#kind;
    const { text, label } = this.#kind.describe(entry);
    const words = el("span", `${prefix}-text`);
    words.append(...text);
    const revoke = button(`button button-secondary button-small ${prefix}-revoke`, t("Revoke"));
    revoke.dataset.id = String(entry.id);
    revoke.setAttribute("aria-label", label);
    li.replaceChildren(words, revoke);
    return li;
  }

  #showError(text) {
    const node = this.#el("s-error");
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  async #create() {
    const room = this.#room;
    try {
      const made = await this.#kind.create(room);
      if (room !== this.#room) return;
      this.#showError(null);
      this.#kind.reset?.();
      const url = this.#el("-url");
      url.value = made.url;
      this.#el("-copy").textContent = t("Copy");
      this.#el("-new").hidden = false;
      url.focus();
      url.select();
      const entry = this.#kind.listed(made);
      if (entry === null) {
        this.#load();
        return;
      }
      this.#entries = [entry, ...this.#entries];
      this.#draw();
    } catch (error) {
      this.#showError(t(this.#kind.words.createFailed, error.detail));
    }
  }

  async #revoke(id, trigger) {
    const { words } = this.#kind;
    const room = this.#room;
    if (!window.confirm(t(words.confirmRevoke))) return;
    try {
      await this.#kind.revoke(room, id);
      if (room !== this.#room) return;
      this.#showError(null);
      const item = trigger.closest("li");
      const neighbour = item?.nextElementSibling ?? item?.previousElementSibling;
      this.#entries = this.#entries.filter((entry) => entry.id !== id);
      this.#draw();
      (neighbour?.querySelector("button") ?? this.#kind.firstField()).focus();
    } catch (error) {
      this.#showError(t(words.revokeFailed, error.detail));
    }
  }

  async #copy() {
    const input = this.#el("-url");
    const copyButton = this.#el("-copy");
    try {
      await navigator.clipboard.writeText(input.value);
      copyButton.textContent = t("Copied");
    } catch {
      input.focus();
      input.select();
      copyButton.textContent = t("Press Ctrl+C to copy");
    }
  }

  #bind() {
    this.#el("-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#create();
    });
    this.#el("-copy").addEventListener("click", () => this.#copy());
    this.#el("-list").addEventListener("click", (event) => {
      const target = event.target.closest("button[data-id]");
      if (target) this.#revoke(Number(target.dataset.id), target);
    });
  }
}

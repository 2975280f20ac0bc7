// The members panel's invite links (owners and admins): make a link that expires and
// may be limited in uses, copy it (its URL comes only once), see the live ones and
// revoke them. The server decides who may; a refusal shows its reason here.
import { createInvite, listInvites, revokeInvite } from "./api.js";
import { button, byId, el, reconcile, whenFormat } from "./dom.js";
import { t } from "./i18n.js";

export class InviteLinks {
  #els;
  // The room whose links are shown (null: hidden), and a generation so answers for a
  // room no longer shown go unused.
  #room = null;
  #generation = 0;
  #invites = [];

  constructor() {
    this.#els = byId([
      "invite-links", "invite-link-form", "invite-link-expiry", "invite-link-uses",
      "invite-link-new", "invite-link-url", "invite-link-copy", "invite-links-error",
      "invite-links-status", "invite-link-list",
    ]);
    this.#bind();
  }

  /** Shows the links of `roomId` when `manager` (loading them once per room), else hides them. */
  show(roomId, manager) {
    const els = this.#els;
    const room = manager ? roomId : null;
    els["invite-links"].hidden = room === null;
    if (room === this.#room) return;
    this.#room = room;
    this.#invites = [];
    els["invite-link-new"].hidden = true;
    els["invite-link-url"].value = "";
    this.#showError(null);
    this.#draw();
    if (room !== null) this.#load();
  }

  /** The next `show` loads the links afresh (the panel was opened again: uses may have changed). */
  forget() {
    this.#room = null;
  }

  async #load() {
    const room = this.#room;
    const generation = ++this.#generation;
    this.#els["invite-links-status"].textContent = t("Loading invite links…");
    try {
      const { invites } = await listInvites(room);
      if (generation !== this.#generation) return;
      this.#invites = invites;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#showError(t("Could not load the invite links: %s", error.detail));
    }
    this.#draw();
  }

  #draw() {
    const count = this.#invites.length;
    this.#els["invite-links-status"].textContent =
      count === 0 ? t("No active invite links.") : t("%s active invite links", count);
    reconcile(
      this.#els["invite-link-list"],
      this.#invites.map((invite) => ({ key: String(invite.id), invite })),
      (item) => this.#fill(el("li", "invite-link"), item.invite),
      (li, item) => this.#fill(li, item.invite),
    );
  }

  #fill(li, invite) {
    const signature = JSON.stringify(invite);
    if (li.dataset.signature === signature) return li;
    li.dataset.signature = signature;
    const made = whenFormat.format(new Date(invite.created_at));
    const expires = invite.expires_at
      ? t("Expires %s", whenFormat.format(new Date(invite.expires_at)))
      : t("Never expires");
    const uses = invite.max_uses === null
      ? t("Used %s times", invite.uses)
      : t("Used %s of %s times", invite.uses, invite.max_uses);
    const text = el("span", "invite-link-text");
    text.append(
      el("span", "", t("By %s, %s", invite.created_by.display_name, made)),
      el("br"),
      el("span", "muted", `${expires} · ${uses}`),
    );
    const revoke = button("button button-secondary button-small invite-link-revoke", t("Revoke"));
    revoke.dataset.invite = String(invite.id);
    revoke.setAttribute("aria-label", t("Revoke the link made %s", made));
    li.replaceChildren(text, revoke);
    return li;
  }

  #showError(text) {
    const node = this.#els["invite-links-error"];
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  async #create() {
    const els = this.#els;
    const room = this.#room;
    const expiry = els["invite-link-expiry"].value;
    const uses = els["invite-link-uses"].value;
    try {
      const invite = await createInvite(room, {
        expires_in: expiry === "" ? null : Number(expiry),
        max_uses: uses === "" ? null : Number(uses),
      });
      if (room !== this.#room) return;
      this.#showError(null);
      els["invite-link-url"].value = invite.url;
      els["invite-link-copy"].textContent = t("Copy");
      els["invite-link-new"].hidden = false;
      els["invite-link-url"].focus();
      els["invite-link-url"].select();
      this.#invites = [invite, ...this.#invites];
      this.#draw();
    } catch (error) {
      this.#showError(t("Could not create the link: %s", error.detail));
    }
  }

  async #revoke(inviteId, trigger) {
    const room = this.#room;
    if (!window.confirm(t("Revoke this invite link? Nobody can join with it afterwards."))) return;
    try {
      await revokeInvite(room, inviteId);
      if (room !== this.#room) return;
      this.#showError(null);
      const item = trigger.closest("li");
      const neighbour = item?.nextElementSibling ?? item?.previousElementSibling;
      this.#invites = this.#invites.filter((invite) => invite.id !== inviteId);
      this.#draw();
      (neighbour?.querySelector("button") ?? this.#els["invite-link-expiry"]).focus();
    } catch (error) {
      this.#showError(t("Could not revoke the link: %s", error.detail));
    }
  }

  async #copy() {
    const input = this.#els["invite-link-url"];
    const copyButton = this.#els["invite-link-copy"];
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
    const els = this.#els;
    els["invite-link-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.#create();
    });
    els["invite-link-copy"].addEventListener("click", () => this.#copy());
    els["invite-link-list"].addEventListener("click", (event) => {
      const target = event.target.closest("button[data-invite]");
      if (target) this.#revoke(Number(target.dataset.invite), target);
    });
  }
}

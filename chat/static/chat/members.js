// The members panel: who is in the open room, their presence and role. It offers the
// controls the user's role suggests (rename, topic, invite, invite links (invites.js),
// webhooks (webhooks.js), roles, remove, leave; in a direct message, block); the server decides, and a refusal
// shows its reason here.
import {
  blockUser,
  inviteMember,
  listBlocks,
  listMembers,
  removeMember,
  setRole,
  unblockUser,
  updateRoom,
} from "./api.js";
import { avatar, botBadge, button, byId, el, hiddenText, presenceDot, reconcile, svgIcon } from "./dom.js";
import { personButton, personFace } from "./profilecard.js";
import { t } from "./i18n.js";
import { InviteLinks } from "./invites.js";
import { Webhooks } from "./webhooks.js";

const REMOVE_PATH =
  "M15 12a4 4 0 1 0-4-4 4 4 0 0 0 4 4zm-6-2H1v2h8v-2zm6 4c-2.67 0-8 1.34-8 4v2h16v-2" +
  "c0-2.66-5.33-4-8-4z";
const RANKS = { owner: 0, admin: 1, member: 2 };

export class MembersPanel {
  #root;
  #els;
  #ui;
  #store;
  #me;
  #on;
  // The list shown: the room it is for and its members by username. A generation makes
  // answers for a room no longer shown go unused.
  #list = { room: null, members: new Map(), hasMore: false, loading: false, generation: 0 };
  // Member list nodes → the member each shows ({user, role}).
  #shown = new WeakMap();
  // The usernames the user blocks, or null until fetched.
  #blocked = null;
  #invites = new InviteLinks();
  #webhooks = new Webhooks();

  /**
   * `root` is the chat page (it carries `members-open`), `ui` the UiState, `store` the
   * Store; `on.blocksChanged()` is told when the user blocks or unblocks someone.
   */
  constructor(root, { ui, store, me, on }) {
    this.#els = byId([
      "members-toggle", "members-panel", "members-close", "members-error", "room-settings",
      "room-name-input", "room-topic-input", "invite-form", "invite-input", "members-status",
      "member-list", "leave-room", "members-heading",
    ]);
    this.#root = root;
    this.#ui = ui;
    this.#store = store;
    this.#me = me;
    this.#on = on;
    this.#bind();
  }

  /** The usernames the user blocks (a Set), or null while unknown. */
  get blocked() {
    return this.#blocked;
  }

  /** The open room changed: its toggle, and the list when the panel is open. */
  showRoom() {
    this.#els["members-toggle"].hidden = this.#ui.removed;
  }

  /** Another room opened: its list loads if the panel is open, a DM's blocks if unknown. */
  roomOpened() {
    if (this.#ui.room?.kind === "direct") this.#loadBlocks();
    if (this.#ui.membersOpen) this.#load();
  }

  /** Opens (and loads) or closes the panel; focus goes into it, or back to its toggle. */
  setOpen(open, { refocus = true } = {}) {
    const { "members-panel": panel, "members-toggle": toggle } = this.#els;
    if (this.#ui.membersOpen !== open) {
      this.#ui.membersOpen = open;
      panel.hidden = !open;
      this.#root.classList.toggle("members-open", open);
      toggle.setAttribute("aria-expanded", String(open));
      if (!open) this.#showError(null);
      else {
        this.#invites.forget();
        this.#webhooks.forget();
      }
      if (refocus && open) this.#els["members-close"].focus();
      else if (refocus && !toggle.hidden) toggle.focus();
    }
    if (open) this.#load();
  }

  /** A `member` event: someone joined, left or changed role in room `roomId`. */
  applyMember(roomId, user, role) {
    if (roomId !== this.#list.room) return;
    if (role === null) this.#list.members.delete(user.username);
    else this.#list.members.set(user.username, { user, role });
    this.render();
  }

  /** Draws the panel for the open room, if it is open and its list is for that room. */
  render() {
    const room = this.#store.room(this.#ui.roomId) ?? this.#ui.room;
    const list = this.#list;
    if (!room || !this.#ui.membersOpen || list.room !== this.#ui.roomId) return;
    const members = [...list.members.values()].sort(
      (a, b) =>
        RANKS[a.role] - RANKS[b.role] || a.user.username.localeCompare(b.user.username),
    );
    const els = this.#els;
    const group = room.kind !== "direct";
    const member = room.role !== null && !this.#ui.removed;
    const manager = group && member && ["owner", "admin"].includes(room.role);
    const owner = manager && room.role === "owner";
    els["members-heading"].textContent = group ? t("Members") : t("People");
    els["room-settings"].hidden = !manager;
    if (manager && !els["room-settings"].contains(document.activeElement)) {
      els["room-name-input"].value = room.name;
      els["room-topic-input"].value = room.topic ?? "";
    }
    els["invite-form"].hidden = !manager;
    this.#invites.show(this.#ui.roomId, manager);
    this.#webhooks.show(this.#ui.roomId, manager);
    els["leave-room"].hidden = !(group && member);
    let status = t("%s members", members.length);
    if (list.loading) status = t("Loading members…");
    else if (members.length === 1) status = t("1 member");
    else if (list.hasMore) status = t("The first %s members", members.length);
    els["members-status"].textContent = status;
    const can = { owner, manager, direct: !group && member, blocked: this.#blocked };
    reconcile(
      els["member-list"],
      members.map((entry) => ({ key: entry.user.username, entry })),
      (item) => {
        const li = el("li", "member");
        this.#fillMember(li, item.entry, can);
        return li;
      },
      (li, item) => this.#fillMember(li, item.entry, can),
    );
  }

  /** Fetches the open room's members; `quiet` keeps the list shown meanwhile. */
  async #load({ quiet = false } = {}) {
    const roomId = this.#ui.roomId;
    if (roomId === null || !this.#ui.membersOpen) return;
    const generation = this.#list.generation + 1;
    if (quiet && this.#list.room === roomId) this.#list.generation = generation;
    else {
      this.#list = { room: roomId, members: new Map(), hasMore: false, loading: true, generation };
    }
    this.render();
    try {
      const page = await listMembers(roomId);
      if (generation !== this.#list.generation) return;
      this.#list.members = new Map(page.members.map((member) => [member.user.username, member]));
      this.#list.hasMore = page.has_more;
    } catch (error) {
      if (generation !== this.#list.generation || !this.#ui.membersOpen) return;
      this.#showError(t("Could not load the members: %s", error.detail));
    }
    this.#list.loading = false;
    this.render();
  }

  async #loadBlocks() {
    if (this.#blocked !== null) return;
    try {
      this.#blocked = new Set((await listBlocks()).blocked);
    } catch {
      return; // the Block button and the composer's note wait for the next try
    }
    this.#on.blocksChanged();
    this.render();
  }

  /** Runs a change the server may refuse; shows its reason in the panel. */
  async #manage(action, failure, ...args) {
    try {
      await action();
      this.#showError(null);
      this.#load({ quiet: true });
    } catch (error) {
      this.#showError(t(failure, ...args, error.detail));
      this.render();
    }
  }

  /** Shows what the server said when a change was refused (or clears it: null). */
  #showError(text) {
    const node = this.#els["members-error"];
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  #fillMember(li, { user, role }, can) {
    const me = user.id === this.#me.id;
    const blocked = Boolean(can.blocked?.has(user.username));
    const signature = JSON.stringify([user, role, me, can.owner, can.manager, can.direct, blocked]);
    if (li.dataset.signature === signature) return;
    li.dataset.signature = signature;
    const face = el("span", "room-face");
    face.append(
      personFace(avatar(user.display_name, user.id, "member-avatar", user.avatar), user),
      presenceDot(user.id, me ? null : this.#store.presenceOf(user.id)),
    );
    const who = el("span", "member-who");
    who.append(
      personButton(user, "member-name"),
      el("span", "member-username", `@${user.username}`),
    );
    if (user.is_bot) who.append(botBadge(user));
    if (me) who.append(hiddenText(t("(you)")));
    const roles = { owner: t("Owner"), admin: t("Admin"), member: t("Member") };
    const controls = el("span", "member-controls");
    if (can.owner && !me) {
      const select = el("select", "member-role");
      select.setAttribute("aria-label", t("Role of %s", user.display_name));
      for (const [value, label] of Object.entries(roles)) {
        const option = el("option", "", label);
        option.value = value;
        option.selected = value === role;
        select.append(option);
      }
      select.dataset.action = "role";
      controls.append(select);
    } else if (role !== "member" || !can.direct) {
      controls.append(el("span", "tag member-role-label", roles[role] ?? role));
    }
    if (can.manager && !me) {
      const remove = button("icon-button member-remove");
      remove.dataset.action = "remove";
      const label = t("Remove %s from the room", user.display_name);
      remove.append(svgIcon(REMOVE_PATH), hiddenText(label));
      remove.title = label;
      controls.append(remove);
    }
    if (can.direct && !me) {
      const block = button("button button-secondary button-small member-block");
      block.dataset.action = blocked ? "unblock" : "block";
      block.textContent = blocked ? t("Unblock") : t("Block");
      const name = user.display_name;
      block.setAttribute("aria-label", blocked ? t("Unblock %s", name) : t("Block %s", name));
      controls.append(block);
    }
    li.replaceChildren(face, who, controls);
    this.#shown.set(li, { user, role });
  }

  // What the controls do, in the open room.

  #removeMember(member) {
    const name = member.user.display_name;
    if (!window.confirm(t("Remove %s from this room?", name))) return;
    const roomId = this.#ui.roomId;
    this.#manage(() => removeMember(roomId, member.user.username), "Could not remove %s: %s", name);
  }

  #leave() {
    if (!window.confirm(t("Leave %s?", `#${this.#ui.room.name}`))) return;
    const roomId = this.#ui.roomId;
    this.#manage(() => removeMember(roomId, this.#me.username), "Could not leave the room: %s");
  }

  #block(username, on) {
    this.#manage(
      async () => {
        const answer = await (on ? blockUser(username) : unblockUser(username));
        this.#blocked = new Set(answer.blocked);
        this.#on.blocksChanged();
      },
      on ? "Could not block %s: %s" : "Could not unblock %s: %s",
      username,
    );
  }

  #bind() {
    const els = this.#els;
    els["members-toggle"].addEventListener("click", () => this.setOpen(!this.#ui.membersOpen));
    els["members-close"].addEventListener("click", () => this.setOpen(false));
    els["room-settings"].addEventListener("submit", (event) => {
      event.preventDefault();
      const roomId = this.#ui.roomId;
      const changes = { name: els["room-name-input"].value, topic: els["room-topic-input"].value };
      this.#manage(
        async () => this.#store.upsertRoom(await updateRoom(roomId, changes)),
        "Could not save the room: %s",
      );
    });
    els["invite-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      const username = els["invite-input"].value.trim();
      if (!username) return;
      const roomId = this.#ui.roomId;
      this.#manage(
        async () => {
          await inviteMember(roomId, username);
          els["invite-input"].value = "";
        },
        "Could not invite %s: %s",
        username,
      );
    });
    els["member-list"].addEventListener("click", (event) => {
      const target = event.target.closest("button[data-action]");
      const member = target && this.#shown.get(target.closest("li"));
      if (!member) return;
      const { action } = target.dataset;
      if (action === "remove") this.#removeMember(member);
      else if (action === "block" || action === "unblock") {
        this.#block(member.user.username, action === "block");
      }
    });
    els["member-list"].addEventListener("change", (event) => {
      const select = event.target.closest("select[data-action=role]");
      const member = select && this.#shown.get(select.closest("li"));
      if (!member) return;
      // Redrawn after the answer: a refusal puts the select back to the role held.
      delete select.closest("li").dataset.signature;
      const roomId = this.#ui.roomId;
      const { username } = member.user;
      this.#manage(() => setRole(roomId, username, select.value), "Could not change the role: %s");
    });
    els["leave-room"].addEventListener("click", () => this.#leave());
  }
}

// The members panel's invite links (owners and admins): make a link that expires and
// may be limited in uses, copy it (its URL comes only once), see the live ones and
// revoke them (secretlist.js does the list; this says what an invite link is).
import { createInvite, listInvites, revokeInvite } from "./api.js";
import { byId, el, whenFormat } from "./dom.js";
import { t } from "./i18n.js";
import { SecretList } from "./secretlist.js";

export class InviteLinks extends SecretList {
  constructor() {
    const fields = byId(["invite-link-expiry", "invite-link-uses"]);
    super({
      prefix: "invite-link",
      list: async (room) => (await listInvites(room)).invites,
      create: (room) => {
        const expiry = fields["invite-link-expiry"].value;
        const uses = fields["invite-link-uses"].value;
        return createInvite(room, {
          expires_in: expiry === "" ? null : Number(expiry),
          max_uses: uses === "" ? null : Number(uses),
        });
      },
      revoke: revokeInvite,
      listed: (invite) => invite,
      firstField: () => fields["invite-link-expiry"],
      describe: (invite) => {
        const made = whenFormat.format(new Date(invite.created_at));
        const expires = invite.expires_at
          ? t("Expires %s", whenFormat.format(new Date(invite.expires_at)))
          : t("Never expires");
        const uses = invite.max_uses === null
          ? t("Used %s times", invite.uses)
          : t("Used %s of %s times", invite.uses, invite.max_uses);
        return {
          text: [
            el("span", "", t("By %s, %s", invite.created_by.display_name, made)),
            el("br"),
            el("span", "muted", `${expires} · ${uses}`),
          ],
          label: t("Revoke the link made %s", made),
        };
      },
      words: {
        loading: "Loading invite links…",
        loadFailed: "Could not load the invite links: %s",
        none: "No active invite links.",
        count: "%s active invite links",
        createFailed: "Could not create the link: %s",
        confirmRevoke: "Revoke this invite link? Nobody can join with it afterwards.",
        revokeFailed: "Could not revoke the link: %s",
      },
    });
  }
}

// Consent records: a subject's consent to biometric processing, the collections it covers
// and where its evidence is kept; withdrawn after an explicit second step, which erases at
// once every face enrolled under it.

import { $, api, busy, el, field, say, when } from "../core.js";
import { askFirst, count, tableBox } from "./admin-parts.js";

let section = null;

/** A datetime-local value (the browser's time zone) as an ISO time, or null when empty. */
const isoOrNull = (value) => (value ? new Date(value).toISOString() : null);

function state(c) {
  if (c.withdrawn_at) return `withdrawn ${when(c.withdrawn_at)}`;
  const now = Date.now();
  if (new Date(c.given_at).getTime() > now) return "not yet valid";
  if (c.expires_at && new Date(c.expires_at).getTime() <= now) return "expired";
  return "valid";
}

const $$checked = (root) =>
  [...root.querySelectorAll("input[name=scope]:checked")].map((box) => box.value);

async function loadScope() {
  const names = await api("/collections");
  const holder = $("#consent-scope", section);
  const ticked = new Set($$checked(holder));
  holder.replaceChildren(
    el("legend", {}, "Collections it covers"),
    ...(names.length
      ? names.map((name) => el("label", { class: "inline" },
        el("input", { type: "checkbox", name: "scope", value: name, checked: ticked.has(name) }),
        name))
      : [el("p", { class: "hint" }, "No collection yet: an admin makes one on the Collections page.")]));
}

async function loadList() {
  const consents = await api("/consents");
  consents.sort((a, b) => b.id - a.id);
  $("#consent-list", section).replaceChildren(consents.length
    ? tableBox("Consent records",
      ["Number", "Subject", "Purpose", "Covers", "Given", "Expires", "Evidence", "Person", "State",
        "Withdraw"],
      consents.map((c) => [String(c.id), c.subject_ref, c.purpose, c.scope.join(", "),
        when(c.given_at), c.expires_at ? when(c.expires_at) : "no end", c.evidence_ref,
        c.person_id === null ? "none enrolled" : `person ${c.person_id}`, state(c),
        c.withdrawn_at ? "" : withdrawButton(c)]), "consents-table")
    : el("p", { class: "hint" }, "No consent recorded yet."));
}

function withdrawButton(c) {
  const button = el("button", { type: "button", class: "secondary",
    "aria-label": `Withdraw consent ${c.id} (${c.subject_ref})` }, "Withdraw");
  button.addEventListener("click", () => {
    say("");
    $("#consent-outcome", section).replaceChildren();
    askFirst($("#consent-confirm", section), {
      id: "withdraw-step",
      summary: `Withdraw consent ${c.id} of ${c.subject_ref}? Every face enrolled under it is `
        + "erased at once from the store, the index and every copy.",
      confirmLabel: "Withdraw and erase",
      returnTo: button,
      onConfirm: (yes, close) => busy(yes, async () => {
        const erased = await api(`/consents/${c.id}/withdraw`, { method: "POST" });
        close();
        const outcome = `Consent ${c.id} withdrawn: ${count(erased.faces_erased.length, "face")} `
          + `and ${count(erased.images_erased.length, "image")} erased.`;
        $("#consent-outcome", section).replaceChildren(el("p", { class: "outcome" }, outcome));
        say(outcome, "notice");
        await loadList();
        $("#consent-outcome", section).focus();
      }),
    });
  });
  return button;
}

async function record(form) {
  const data = new FormData(form);
  const scope = data.getAll("scope").map(String);
  if (!scope.length) throw new Error("Tick at least one collection the consent covers.");
  const made = await api("/consents", {
    method: "POST",
    json: {
      subject_ref: String(data.get("subject_ref")).trim(),
      purpose: String(data.get("purpose")).trim(),
      scope,
      evidence_ref: String(data.get("evidence_ref")).trim(),
      given_at: isoOrNull(data.get("given_at")),
      expires_at: isoOrNull(data.get("expires_at")),
    },
  });
  form.reset();
  say(`Consent ${made.id} of ${made.subject_ref} recorded.`, "notice");
  await loadList();
}

export default {
  id: "consent",
  title: "Consent",
  needs: ["manage_consent"],
  build(root) {
    section = root;
    const form = el("form", { id: "consent-form" },
      field("Subject reference", el("input", { name: "subject_ref", required: true,
        maxlength: "200", autocomplete: "off" })),
      field("Purpose", el("input", { name: "purpose", required: true, minlength: "3" })),
      el("fieldset", { id: "consent-scope" }, el("legend", {}, "Collections it covers")),
      field("Evidence reference", el("input", { name: "evidence_ref", required: true }),
        "Where the signed consent is kept."),
      field("Given", el("input", { name: "given_at", type: "datetime-local" }), "Empty: now."),
      field("Expires", el("input", { name: "expires_at", type: "datetime-local" }),
        "Empty: no end."),
      el("button", { type: "submit" }, "Record consent"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form.querySelector("button[type=submit]"), () => record(form));
    });
    root.append(
      el("h1", { id: "consent-title" }, "Consent"),
      el("p", { class: "hint" }, "A collection resting on consent enrols a person only under "
        + "a valid consent record. Withdrawing it erases their faces at once."),
      el("h2", {}, "Record a consent"), form,
      el("h2", {}, "Consent records"),
      el("div", { id: "consent-confirm" }),
      el("div", { id: "consent-outcome", tabindex: "-1", "aria-live": "polite" }),
      el("div", { id: "consent-list" }));
  },
  async shown() {
    await Promise.all([loadScope(), loadList()]);
  },
  forget() {
    section = null;
  },
};

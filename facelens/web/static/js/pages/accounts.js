// Accounts: who may use facelens, in which role and where. A new account's key is shown
// once, in a read-only field, and dropped from the page as soon as the admin leaves it.

import { $, api, busy, el, field, say, when } from "../core.js";
import { tableBox } from "./admin-parts.js";

const ROLES = [
  ["analyst", "Analyst: searches and verifies"],
  ["enroller", "Enroller: uploads, enrols and deletes"],
  ["auditor", "Auditor: reads the logs and reports"],
  ["admin", "Admin: accounts, collections, privacy work"],
];

let section = null;
let leave = null; // the hashchange listener that drops the key when the page is left

/** The key is shown once: dropped from the page when the admin goes elsewhere. */
function dropKey() {
  section?.querySelector("#account-key")?.replaceChildren();
}

async function loadList() {
  const accounts = await api("/accounts");
  $("#account-list", section).replaceChildren(
    el("p", { class: "hint" }, `${accounts.length} accounts.`),
    tableBox("Accounts", ["Name", "Role", "Jurisdiction", "Created", "State"],
      accounts.map((a) => [a.name, a.role, a.jurisdiction || "any", when(a.created_at),
        a.disabled ? "disabled" : "active"]), "accounts-table"));
}

function showKey(made) {
  const key = el("input", {
    id: "new-key", type: "text", readonly: true, value: made.key, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "new-key-note",
  });
  const copy = el("button", { type: "button", class: "secondary", id: "copy-key" }, "Copy key");
  copy.addEventListener("click", () => busy(copy, async () => {
    key.select();
    await navigator.clipboard.writeText(made.key);
    say("The key is copied.", "notice");
  }));
  $("#account-key", section).replaceChildren(
    el("h2", { id: "new-key-title" }, `Key for ${made.account.name}`),
    el("div", { class: "key-box", role: "group", "aria-labelledby": "new-key-title" },
      field(`API key of ${made.account.name} (${made.account.role})`, key),
      copy,
      el("p", { class: "hint", id: "new-key-note" },
        el("strong", {}, "This key will not be shown again."),
        " Give it to its holder now, by a safe way: facelens keeps only a hash of it. "
        + "It is gone from this page when you leave it.")));
  key.focus();
  key.select();
}

async function create(form) {
  const data = new FormData(form);
  const jurisdiction = String(data.get("jurisdiction") || "").trim();
  const made = await api("/accounts", {
    method: "POST",
    json: { name: String(data.get("name")).trim(), role: data.get("role"),
      jurisdiction: jurisdiction || null },
  });
  form.reset();
  showKey(made);
  await loadList();
}

export default {
  id: "accounts",
  title: "Accounts",
  needs: ["manage_accounts"],
  build(root) {
    section = root;
    const form = el("form", { id: "account-form" },
      field("Name", el("input", { name: "name", required: true, maxlength: "200",
        autocomplete: "off" })),
      field("Role", el("select", { name: "role", required: true },
        ROLES.map(([value, words]) => el("option", { value }, words)))),
      field("Jurisdiction", el("input", { name: "jurisdiction", maxlength: "10",
        autocomplete: "off" }), "Where it works: an ISO 3166 code (GB, US-IL); empty for any."),
      el("button", { type: "submit" }, "Create account"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      dropKey();
      busy(form.querySelector("button[type=submit]"), () => create(form));
    });
    root.append(
      el("h1", { id: "accounts-title" }, "Accounts"),
      el("p", { class: "hint" }, "Each account has one role. A key is shown once, when the "
        + "account is made."),
      el("h2", {}, "New account"), form,
      el("div", { id: "account-key", "aria-live": "polite" }),
      el("h2", {}, "All accounts"), el("div", { id: "account-list" }));
    leave = () => { if (location.hash !== "#accounts") dropKey(); };
    window.addEventListener("hashchange", leave);
  },
  async shown() {
    dropKey();
    await loadList();
  },
  forget() {
    dropKey();
    if (leave) window.removeEventListener("hashchange", leave);
    leave = null;
    section = null;
  },
};

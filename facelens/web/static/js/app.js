// The web interface: plain JavaScript modules over the JSON API, signed in by a session
// cookie. Requests that change anything carry the session's CSRF token (X-CSRF-Token).
//
// Each page is built afresh for each sign-in and thrown away at sign-out, so nothing one
// user saw (a probe photo, results, a purpose or case reference) is left for the next
// user of a shared browser.

import { $, api, csrfToken, el, may, say, session } from "./core.js";
import { PAGES } from "./pages/index.js";

let built = new Map(); // page id -> its section, for this sign-in only

function allowedPages() {
  return PAGES.filter((page) => page.needs.some((action) => may(action)));
}

function buildNav() {
  const links = $("#nav-links");
  links.replaceChildren(...allowedPages().map((page) =>
    el("li", {}, el("a", { href: `#${page.id}`, dataset: { page: page.id } }, page.title))));
  $("#who").textContent = session.me
    ? `${session.me.account.name} (${session.me.account.role})` : "";
  $("#nav").hidden = !session.me;
}

async function show(page) {
  say("");
  for (const section of built.values()) section.hidden = true;
  $("#signin-page").hidden = page !== null;
  for (const link of document.querySelectorAll("#nav-links a")) {
    if (link.dataset.page === page?.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (page === null) {
    document.title = "Sign in · facelens";
    $("#key").focus();
    return;
  }
  let section = built.get(page.id);
  if (!section) {
    section = el("section", { id: `${page.id}-page`, "aria-labelledby": `${page.id}-title` });
    $("main").append(section);
    built.set(page.id, section);
    page.build(section);
  }
  section.hidden = false;
  document.title = `${page.title} · facelens`;
  if (page.shown) {
    try {
      await page.shown(section);
    } catch (error) {
      say(error.message);
    }
  }
}

function route() {
  if (!session.me) return show(null);
  const allowed = allowedPages();
  const wanted = allowed.find((page) => page.id === location.hash.slice(1));
  return show(wanted || allowed[0] || null);
}

async function whoAmI() {
  session.me = null;
  // Without the CSRF cookie there is no session to ask about (and no 401 to log).
  if (csrfToken()) session.me = await api("/session").catch(() => null);
  buildNav();
  await route();
}

/** Forget everything this sign-in built: pages, their data, any photo held in memory. */
function forgetSession() {
  for (const page of PAGES) page.forget?.();
  for (const section of built.values()) section.remove();
  built = new Map();
  $("#large")?.close?.();
  session.me = null;
  buildNav();
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  if (button.disabled) return;
  button.disabled = true;
  try {
    await api("/session", { method: "POST", body: new FormData(form) });
    form.reset();
    forgetSession(); // a sign-in over another's, on the same tab, starts clean too
    history.replaceState(null, "", location.pathname);
    await whoAmI();
  } catch (error) {
    say(error.message);
  } finally {
    button.disabled = false;
  }
});

$("#sign-out").addEventListener("click", async () => {
  forgetSession();
  await api("/session", { method: "DELETE" }).catch(() => {});
  history.replaceState(null, "", location.pathname);
  await route();
});

// A new action clears the last one's message: a banner speaks of what was just done.
document.addEventListener("submit", () => say(""), true);
window.addEventListener("hashchange", route);
whoAmI();

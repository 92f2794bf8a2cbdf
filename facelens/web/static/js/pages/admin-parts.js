// Parts the admin pages share (accounts, subject requests, consent, retention, transparency):
// a table in a scrolling box a keyboard can reach, and the explicit second step that asks
// before anything is erased (no window.confirm: it is inline, labelled and keyboard usable).

import { el, table } from "../core.js";

/** A table in its own scrolling box: on a narrow screen the box scrolls, not the page. */
export const tableBox = (label, headings, rows, id) =>
  el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label, id },
    table(headings, rows));

/** "1 face", "2 faces". */
export const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

let confirmations = 0;

/**
 * The second step of a destructive action, shown in `holder`: the summary of what will be
 * done, a Confirm button (running `onConfirm`, inside busy() by the caller's choice) and a
 * Cancel. Focus moves to the summary; Cancel (or Escape) puts it back on `returnTo`.
 */
export function askFirst(holder, { summary, confirmLabel, onConfirm, returnTo, id }) {
  const titleId = `confirm-${++confirmations}`;
  const close = () => {
    holder.replaceChildren();
    returnTo?.focus();
  };
  const yes = el("button", { type: "button", class: "danger", id: id && `${id}-yes` },
    confirmLabel);
  yes.addEventListener("click", () => onConfirm(yes, () => holder.replaceChildren()));
  const box = el("div", {
    class: "confirm", role: "group", "aria-labelledby": titleId, tabindex: "-1", id,
    onkeydown: (event) => { if (event.key === "Escape") close(); },
  },
  el("p", { id: titleId }, el("strong", {}, summary)),
  el("p", { class: "actions" }, yes, " ",
    el("button", { type: "button", class: "secondary", id: id && `${id}-no`, onclick: close },
      "Cancel")));
  holder.replaceChildren(box);
  box.focus();
  return box;
}

// Verify: are the largest faces of two photos the same person? Both photos side by side,
// the face compared in each marked, the similarity and what the threshold means.

import { api, busy, el, field, say } from "../core.js";
import { fmrInWords, placeBox } from "../evidence.js";

let urls = []; // the two photos, in this tab's memory only
let generation = 0;

function forgetPhotos() {
  for (const url of urls) URL.revokeObjectURL(url);
  urls = [];
}

function photo(which, label) {
  const image = el("img", { id: `verify-image-${which}`, alt: `${label}, its face marked` });
  const box = el("div", { class: "box", id: `verify-box-${which}`, hidden: true });
  const caption = el("figcaption", { id: `verify-caption-${which}` }, label);
  return { image, box, figure: el("figure", { id: `verify-photo-${which}`, hidden: true },
    el("div", { class: "probe-view" }, image, box), caption), caption };
}

function verdict(r) {
  const rule = `SAME PERSON means a similarity of at least ${r.threshold.toFixed(2)}.` +
    (r.measured_fmr === null ? " No false match rate was measured at this threshold."
      : ` ${fmrInWords(r.measured_fmr)}`);
  return [
    el("p", { class: `verdict ${r.same_person ? "is-match" : "below"}` },
      el("span", { class: "badge" }, r.same_person ? "SAME PERSON" : "NOT THE SAME PERSON"),
      ` similarity ${r.similarity.toFixed(3)}`),
    el("p", { class: "decision" }, rule, " A verdict is a lead for a person to check, never " +
      "an identification on its own."),
    el("p", { class: "hint" }, `Model ${r.model.id}. The largest face of each photo was ` +
      "compared." + [["first", r.turned_degrees_a], ["second", r.turned_degrees_b]]
      .filter(([, turn]) => turn)
      .map(([name, turn]) => ` The ${name} photo was turned ${turn}° clockwise for its face ` +
        "to be found.").join("")),
  ];
}

function build(section) {
  const first = el("input", { id: "verify-first", name: "first", type: "file",
    accept: "image/*", required: true });
  const second = el("input", { id: "verify-second", name: "second", type: "file",
    accept: "image/*", required: true });
  const button = el("button", { type: "submit", id: "verify-button" }, "Compare");
  const form = el("form", { id: "verify-form", novalidate: true },
    field("First photo", first), field("Second photo", second), button);
  const a = photo("a", "First photo");
  const b = photo("b", "Second photo");
  const result = el("div", { id: "verify-result", "aria-live": "polite" });
  section.append(el("h1", { id: "verify-title" }, "Verify two photos"),
    el("p", { class: "hint" }, "Compares the largest face of each photo. Logged with your " +
      "account; neither photo is kept."),
    form, result, el("div", { class: "side-by-side", id: "verify-photos" }, a.figure, b.figure));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const mine = ++generation;
      result.replaceChildren();
      for (const side of [a, b]) {
        side.figure.hidden = true;
        side.box.hidden = true;
      }
      if (!first.files[0] || !second.files[0]) return say("Choose both photos to compare.");
      let answer;
      try {
        answer = await api("/verifications", { method: "POST", body: new FormData(form) });
      } catch (error) {
        if (mine === generation) say(error.message);
        return;
      }
      if (mine !== generation) return;
      forgetPhotos();
      for (const [side, file, box] of [[a, first.files[0], answer.box_a],
        [b, second.files[0], answer.box_b]]) {
        const url = URL.createObjectURL(file);
        urls.push(url);
        side.caption.textContent = file.name;
        side.image.onload = () => {
          if (mine !== generation) return;
          placeBox(side.box, box, side.image);
          side.box.hidden = false;
        };
        side.image.src = url;
        side.figure.hidden = false;
      }
      result.replaceChildren(...verdict(answer));
    });
  });
}

export default {
  id: "verify", title: "Verify", needs: ["search"], build,
  forget() {
    generation++;
    forgetPhotos();
  },
};

// The web interface: plain JavaScript over the JSON API, signed in by a session cookie.
// Requests that change anything carry the session's CSRF token (X-CSRF-Token).

const $ = (selector) => document.querySelector(selector);
const pages = ["signin", "search", "upload", "collections", "persons", "history"];
let me = null;

function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("facelens_csrf="));
  return found ? decodeURIComponent(found.split("=")[1]) : "";
}

function say(text) {
  const box = $("#message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    // RFC 9457 problem details: the detail says what was wrong and what to do.
    throw new Error(body?.detail || `${response.status} ${response.statusText}`);
  }
  return body;
}

function show(page) {
  for (const name of pages) $(`#${name}-page`).hidden = name !== page;
  say("");
  if (page === "history") loadHistory();
  if (page === "collections") loadCollections();
  if (page === "persons") loadPersons();
}

function route() {
  if (!me) return show("signin");
  const wanted = location.hash.slice(1);
  const allowed = [...document.querySelectorAll("#nav a")]
    .filter((a) => !a.hidden)
    .map((a) => a.getAttribute("href").slice(1));
  show(allowed.includes(wanted) ? wanted : allowed[0] || "signin");
}

async function whoAmI() {
  try {
    me = await api("/session");
  } catch {
    me = null;
  }
  $("#nav").hidden = !me;
  if (me) {
    $("#who").textContent = `${me.account.name} (${me.account.role})`;
    for (const link of document.querySelectorAll("#nav a")) {
      link.hidden = !link.dataset.needs.split(" ").some((action) => me.may.includes(action));
    }
  }
  route();
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/session", { method: "POST", body: new FormData(event.target) });
    event.target.reset();
    await whoAmI();
  } catch (error) {
    say(error.message);
  }
});

$("#sign-out").addEventListener("click", async () => {
  await api("/session", { method: "DELETE" }).catch(() => {});
  me = null;
  await whoAmI();
});

// --- search ---------------------------------------------------------------------------

const drop = $("#drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  $("#probe").files = event.dataTransfer.files;
  $("#probe").dispatchEvent(new Event("change"));
});
$("#probe").addEventListener("change", () => {
  const file = $("#probe").files[0];
  $("#probe-name").textContent = file ? file.name : "";
});

// What made a candidate a MATCH, in words a reviewer can weigh (issue 16: calibrated).
function decisionInWords(result) {
  const d = result.decision;
  if (!d || d.rule !== "calibrated") {
    let text = `MATCH: similarity at or above ${result.threshold}.`;
    if (d && d.expected_false_candidates !== null) {
      text += ` At this threshold a search returns about ` +
        `${d.expected_false_candidates.toFixed(2)} strangers.`;
    }
    return text;
  }
  return `MATCH: normalised score at or above ${d.threshold.toFixed(3)}, calibrated on this ` +
    `gallery (${d.calibrated_gallery_faces.toLocaleString()} faces) so that at most ` +
    `${(d.target_fpir * 100).toFixed(1)}% of searches for someone not in it return a match; ` +
    `about ${d.expected_false_candidates.toFixed(2)} strangers per search score above it.` +
    (d.calibration_stale ? " (Calibration stale: the gallery has changed by over a tenth.)" : "");
}

function matchCard(match) {
  const card = document.createElement("figure");
  card.className = `match ${match.is_match ? "is-match" : "below"}`;
  const name = match.image_location.split("/").pop();
  const person = match.person_name ? `${match.person_name}, ` : "";
  card.innerHTML = `
    <img alt="face ${match.face_id}" src="/faces/${match.face_id}/thumbnail">
    <figcaption>
      <span class="badge">${match.is_match ? "MATCH" : "below threshold"}</span>
      <span class="similarity">${match.similarity.toFixed(3)}</span>${
        match.normalised_score === null ? "" :
        ` <span class="normalised" title="normalised score: the similarity less half the mean of both faces' nearest strangers in the gallery">normalised ${match.normalised_score.toFixed(3)}</span>`}
      <span class="size">${match.size_px} px${match.small_face ? ", small face: weigh with care" : ""}</span><br>
      <span class="person"></span>
      <a class="source" target="_blank" href="/faces/${match.face_id}/source"></a><br>
      <span class="collection"></span>
    </figcaption>`;
  // Names come from users: set as text, never as HTML.
  card.querySelector(".person").textContent = person;
  card.querySelector(".source").textContent = name;
  card.querySelector(".collection").textContent = `collection ${match.collection}`;
  card.querySelector("img").addEventListener("click", () => {
    $("#large-image").src = `/faces/${match.face_id}/source`;
    $("#large").showModal();
  });
  return card;
}

function drawBoxes(result, image) {
  const boxes = $("#boxes");
  boxes.innerHTML = "";
  const scale = image.clientWidth / image.naturalWidth;
  result.faces.forEach((face, index) => {
    const b = face.probe_box;
    const box = document.createElement("div");
    box.className = "box";
    Object.assign(box.style, {
      left: `${b.x1 * scale}px`, top: `${b.y1 * scale}px`,
      width: `${(b.x2 - b.x1) * scale}px`, height: `${(b.y2 - b.y1) * scale}px`,
    });
    box.innerHTML = `<span>${index + 1}</span>`;
    boxes.append(box);
  });
}

$("#search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const results = $("#results");
  results.innerHTML = "";
  say("");
  const form = new FormData(event.target);
  if (!form.get("collections")) form.delete("collections");
  const file = $("#probe").files[0];
  const image = $("#probe-image");
  image.src = URL.createObjectURL(file);
  $("#probe-view").hidden = false;
  $("#search-button").disabled = true;
  try {
    const result = await api("/searches", { method: "POST", body: form });
    const draw = () => drawBoxes(result, image);
    if (image.complete) draw(); else image.onload = draw;
    if (result.probe_turned_degrees) {
      // Boxes come back on the photo as given, so they are drawn on it unturned.
      const turn = document.createElement("p");
      turn.id = "probe-turn";
      turn.textContent = `No face stood upright in this photo: it was searched turned ` +
        `${result.probe_turned_degrees}° clockwise.`;
      results.append(turn);
    }
    result.faces.forEach((face, index) => {
      const heading = document.createElement("h3");
      heading.textContent = `Face ${index + 1} (${face.probe_size_px} px` +
        `${face.probe_small_face ? ", small: weigh its matches with care" : ""}): ` +
        `${face.matches.length} results`;
      const rule = document.createElement("p");
      rule.className = "decision";
      rule.textContent = decisionInWords(result);
      const grid = document.createElement("div");
      grid.className = "grid";
      grid.dataset.face = index + 1;
      face.matches.forEach((match) => grid.append(matchCard(match)));
      results.append(heading, rule, grid);
    });
    if (result.faces_rejected.length) {
      const note = document.createElement("p");
      note.textContent = `${result.faces_rejected.length} more face(s) found but not usable: ` +
        result.faces_rejected
          .map((q) => `${reasonWords[q.rejection_reason] || q.rejection_reason} (${q.size_px} px)`)
          .join(", ");
      results.append(note);
    }
  } catch (error) {
    say(error.message);
  } finally {
    $("#search-button").disabled = false;
  }
});

// --- upload ---------------------------------------------------------------------------

// Why a face was not indexed, in words (the reason codes of facelens/pipeline/quality.py).
const reasonWords = {
  too_small: "too small",
  too_blurry: "too blurry",
  too_many_faces: "past max faces per image",
  low_detector_score: "low detector score",
};

// Size bands are the short side of the face's box: "<24px", "24-32px", ... ">=128px".
const bandList = (bands) => Object.entries(bands).map(([band, n]) => `${n} at ${band}`).join(", ");

function sizeLine(indexed) {
  return Object.keys(indexed).length ? ` (${bandList(indexed)})` : "";
}

function rejectedLines(rejected) {
  return Object.entries(rejected)
    .map(([reason, bands]) => `  ${reasonWords[reason] || reason}: ${bandList(bands)}`)
    .join("\n");
}

$("#upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const collection = encodeURIComponent(form.get("collection").trim());
  form.delete("collection");
  const request = new XMLHttpRequest(); // for upload progress, which fetch does not report
  const progress = $("#upload-progress");
  progress.hidden = false;
  progress.value = 0;
  $("#upload-report").textContent = "uploading...";
  request.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; };
  request.onload = () => {
    const body = JSON.parse(request.responseText || "{}");
    if (request.status >= 400) {
      say(body.detail || request.statusText);
      $("#upload-report").textContent = "";
      return;
    }
    const failed = body.failures.map((f) => `  ${f.location}: ${f.message}`).join("\n");
    const notIndexed = rejectedLines(body.faces_rejected_by_size);
    $("#upload-report").textContent =
      `${body.images_ingested} images ingested, ${body.faces_indexed} faces indexed` +
      sizeLine(body.faces_indexed_by_size) +
      (notIndexed ? `\nnot indexed:\n${notIndexed}` : "") +
      (failed ? `\nfailed:\n${failed}` : "");
  };
  request.open("POST", `/collections/${collection}/images`);
  request.setRequestHeader("X-CSRF-Token", csrfToken());
  request.send(form);
});

// --- collections ----------------------------------------------------------------------

const may = (action) => me && me.may.includes(action);

function thumbnail(faceId) {
  const img = document.createElement("img");
  img.alt = `face ${faceId}`;
  // Thumbnails are shown to those who may search; others see the face id.
  if (may("search")) img.src = `/faces/${faceId}/thumbnail`;
  return img;
}

async function loadCollections() {
  const list = $("#collection-list");
  list.innerHTML = "";
  $("#collection-form").hidden = !may("manage_collections");
  try {
    for (const name of await api("/collections")) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#collections";
      link.textContent = name;
      link.addEventListener("click", () => loadImages(name));
      item.append(link);
      const { policy } = await api(`/collections/${encodeURIComponent(name)}`);
      const basis = document.createElement("span");
      basis.className = "policy";
      basis.textContent = policy
        ? ` ${policy.basis}, ${policy.jurisdictions.join(", ")}: ${policy.purpose}; kept ${policy.retention_days} days`
        : " no legal basis declared: nothing can be added";
      item.append(basis);
      list.append(item);
    }
  } catch (error) {
    say(error.message);
  }
}

$("#collection-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = Object.fromEntries(form.entries());
  body.jurisdictions = body.jurisdictions.split(",").map((j) => j.trim()).filter(Boolean);
  body.retention_days = Number(body.retention_days);
  if (!body.basis_text) delete body.basis_text;
  try {
    await api("/collections", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    event.target.reset();
    loadCollections();
  } catch (error) {
    say(error.message);
  }
});

async function loadImages(collection) {
  $("#collection-title").textContent = collection;
  const grid = $("#collection-images");
  grid.innerHTML = "";
  if (!may("browse")) return; // counts and policy only: browsing images is audited, by role
  try {
    for (const image of await api(`/collections/${encodeURIComponent(collection)}/images`)) {
      const card = document.createElement("figure");
      card.className = "match";
      if (image.face_ids.length) card.append(thumbnail(image.face_ids[0]));
      const caption = document.createElement("figcaption");
      caption.textContent = `${image.location.split("/").pop()}: ${image.face_ids.length} face(s)`;
      card.append(caption);
      if (may("delete")) {
        const remove = document.createElement("button");
        remove.textContent = "Delete";
        remove.addEventListener("click", async () => {
          if (!confirm("Delete this image and its faces from the store and the index?")) return;
          await api(`/images/${image.image_id}`, { method: "DELETE" }).catch((e) => say(e.message));
          loadImages(collection);
        });
        card.append(remove);
      }
      grid.append(card);
    }
  } catch (error) {
    say(error.message);
  }
}

// --- persons --------------------------------------------------------------------------

async function loadPersons() {
  const list = $("#person-list");
  list.innerHTML = "";
  $("#person-results").innerHTML = "";
  try {
    for (const person of await api("/persons")) {
      const block = document.createElement("div");
      block.className = "person-block";
      const title = document.createElement("h3");
      title.textContent = `${person.name} (${person.face_ids.length} faces)`;
      const faces = document.createElement("div");
      faces.className = "grid";
      for (const faceId of person.face_ids.slice(0, 12)) {
        const card = document.createElement("figure");
        card.className = "match";
        card.append(thumbnail(faceId));
        faces.append(card);
      }
      block.append(title, faces);
      if (may("search")) {
        const find = document.createElement("button");
        find.textContent = `Find more faces of ${person.name}`;
        find.addEventListener("click", () => searchPerson(person));
        block.append(find);
      }
      list.append(block);
    }
  } catch (error) {
    say(error.message);
  }
}

async function searchPerson(person) {
  const purpose = prompt("Purpose of this search (logged):");
  const caseRef = purpose && prompt("Case reference (logged):");
  if (!purpose || !caseRef) return;
  try {
    const result = await api(`/persons/${person.id}/searches`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ purpose, case_ref: caseRef, top_k: 20 }),
    });
    const out = $("#person-results");
    out.innerHTML = "";
    const heading = document.createElement("h3");
    heading.textContent = `Faces like ${person.name}'s, threshold ${result.threshold}`;
    const grid = document.createElement("div");
    grid.className = "grid";
    result.matches.forEach((match) => grid.append(matchCard(match)));
    out.append(heading, grid);
  } catch (error) {
    say(error.message);
  }
}

// --- search log -----------------------------------------------------------------------

async function loadHistory() {
  const body = $("#history tbody");
  body.innerHTML = "";
  try {
    for (const row of await api("/searches")) {
      const tr = document.createElement("tr");
      for (const value of [new Date(row.searched_at).toLocaleString(), row.account_name,
        row.purpose, row.case_ref, row.probe_faces, row.results, row.matches]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      body.append(tr);
    }
  } catch (error) {
    say(error.message);
  }
}

window.addEventListener("hashchange", route);
whoAmI();

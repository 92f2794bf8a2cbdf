// Filtering lists already loaded (the audit log, the search log) in the browser.

const pad = (n) => String(n).padStart(2, "0");

/** The local day of an ISO time, as a date input gives it: "2024-05-31". */
export function dayOf(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Is `day` within from..to (both "YYYY-MM-DD" or empty, inclusive)? */
export const inDays = (day, from, to) => (!from || day >= from) && (!to || day <= to);

/** Fill a select with "every" and the distinct values, keeping what was chosen. */
export function options(select, values, every) {
  const chosen = select.value;
  const distinct = [...new Set(values)].sort();
  if (chosen && !distinct.includes(chosen)) distinct.unshift(chosen);
  const wanted = ["", ...distinct];
  const have = [...select.options].map((o) => o.value);
  if (have.length === wanted.length && have.every((v, i) => v === wanted[i])) return;
  select.replaceChildren(...wanted.map((v) => {
    const option = document.createElement("option");
    option.value = v;
    option.textContent = v || every;
    return option;
  }));
  select.value = chosen;
}

// Processes: usage's table (smem) by process, user, command or cgroup; memd sorts.
import { call } from "../rpc.js";
import { el, bytesCell, errorBox, heading, setQuery } from "../format.js";

const KEYS = { process: ["pid", "user", "command"], user: ["user", "count"], command: ["command", "count"], cgroup: ["cgroup", "count"] };
const SIZES = [["rss", "RSS"], ["pss", "PSS"], ["uss", "USS"], ["swap", "Swap"]];

export async function render(root, { query }) {
  const by = KEYS[query.get("by")] ? query.get("by") : "process";
  const sort = query.get("sort") || "pss";
  root.append(...heading("Processes",
    "Who holds the memory, as smem counts it: RSS counts shared pages in full for every process, PSS splits them among their sharers, USS is what a process alone holds. Click a column to sort, a process to open it."));
  const picker = el("select", { id: "by", onchange: () => { location.hash = `#/processes?by=${picker.value}&sort=${sort}`; } },
    Object.keys(KEYS).map((key) => el("option", { value: key, selected: key === by }, `by ${key}`)));
  const table = el("table", { id: "usage" });
  const note = el("p", { class: "muted" });
  root.append(el("form", { class: "controls" }, el("label", {}, "group", picker)), el("section", {}, note, table));
  setQuery("processes", { by, sort });
  let result;
  try {
    result = await call("usage", { by, sort, limit: 200 });
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  const keys = KEYS[by];
  const head = el("tr", {},
    keys.map((key) => el("th", { class: "text sortable" + (sort === key ? " sorted" : ""), "data-sort": key }, key)),
    SIZES.map(([key, label]) => el("th", { class: "sortable" + (sort === key ? " sorted" : ""), "data-sort": key }, label)));
  for (const cell of head.cells) {
    cell.addEventListener("click", () => { location.hash = `#/processes?by=${by}&sort=${cell.dataset.sort}`; });
  }
  const rows = result.rows.map((row) => {
    const tr = el("tr", { class: by === "process" ? "clickable" : null, "data-pid": row.pid },
      keys.map((key) => el("td", { class: "text" }, row[key] ?? "–")),
      SIZES.map(([key]) => bytesCell(row[key])));
    if (by === "process") tr.addEventListener("click", () => { location.hash = `#/process/${row.pid}`; });
    return tr;
  });
  const totals = result.totals;
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows),
    el("tfoot", {}, el("tr", {}, el("th", { class: "text", colspan: keys.length }, `total (${totals.count})`),
      SIZES.map(([key]) => bytesCell(totals[key], "th")))));
  const skipped = result.skipped;
  note.textContent = `${result.rows.length} rows in ${result.durationMs.toFixed(0)} ms` +
    (skipped.denied ? `; ${skipped.denied} processes you may not read are left out` : "") +
    (skipped.exited ? `; ${skipped.exited} exited while read` : "");
}

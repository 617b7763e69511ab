// Process: its address space drawn from maps (smaps figures), its rss live,
// and, where this memd has them, its working set and page flags.
import { call, forget, has } from "../rpc.js";
import { el, bytesCell, errorBox, heading, human } from "../format.js";
import { liveChart } from "../chart.js";

const COLOURS = { heap: "#c0392b", stack: "#8e44ad", anon: "#d9822b", file: "#2d7fb8", lib: "#27ae60", special: "#7f8c8d" };

/** The colour class of a mapping: memd's kind, with shared libraries told apart from other files. */
function tint(mapping) {
  if (mapping.kind === "file") return /\.so(\.|$)/.test(mapping.path || "") ? "lib" : "file";
  if (["heap", "stack", "anon"].includes(mapping.kind)) return mapping.kind;
  return "special";
}

/** The mapping as its /proc/PID/maps line. */
function mapsLine(m) {
  const hex = (text) => text.replace(/^0x/, "");
  return `${hex(m.start)}-${hex(m.end)} ${m.perms} ${hex(m.offset).padStart(8, "0")} ${m.device} ${m.inode}` +
    (m.path ? `    ${m.path}${m.deleted ? " (deleted)" : ""}` : "");
}

export async function render(root, { arg }) {
  const pid = Number.parseInt(arg, 10);
  root.append(...heading(`Process ${Number.isFinite(pid) ? pid : "?"}`,
    "Its address space as the kernel keeps it: every mapping a band, left to right by address (gaps drawn on a log scale so stack, heap and libraries all show), coloured by kind, filled as far as its pages are resident (rss)."));
  if (!Number.isInteger(pid) || pid < 1) {
    root.append(el("p", { class: "error" }, "Open a process from the Processes view (#/process/PID)."));
    return;
  }
  let maps;
  try {
    maps = await call("maps", { pid, detail: true });
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  root.querySelector("h1").textContent = `Process ${pid} — ${maps.command}`;
  const hover = el("div", { class: "hover mono", id: "maps-line" }, "Hover a band to see its /proc/PID/maps line.");
  const space = drawSpace(maps.mappings, hover);
  const totals = maps.totals;
  root.append(el("section", {},
    el("h2", {}, `Address space: ${maps.mappings.length} mappings, size ${human(totals.size ?? totals.vsz)}, rss ${human(totals.rss)}, pss ${human(totals.pss)}`),
    space, hover, legend()));

  const chartBox = el("div", { id: "rss-chart" });
  const extra = el("div", { class: "row" });
  root.append(el("div", { class: "row" }, el("section", {}, el("h2", {}, "rss, live"), chartBox)), extra, mappingsTable(maps.mappings));
  const chart = liveChart(chartBox, { series: ["rss", "pss"], unit: "bytes" });
  const watch = call("watch", { pids: [pid], system: false, pss: true, intervalMs: 1000, untilExit: true }, (method, sample) => {
    const row = sample.processes && sample.processes.find((p) => p.pid === pid);
    if (row) chart.push(sample.time / 1000, [row.rss, row.pss ?? null]);
  });
  watch.catch(() => {});

  await pageTruth(extra, pid);
  return () => {
    forget(watch.id);
    call("watch.stop", { id: watch.id }).catch(() => {});
    chart.destroy();
  };
}

function drawSpace(mappings, hover) {
  const space = el("div", { class: "space", id: "space" });
  // Geometry only: each band's width and each gap grow with the log of their bytes.
  const weight = (bytes) => Math.log2(Math.max(1, bytes / 4096)) + 1;
  let total = 0;
  const layout = [];
  let previousEnd = null;
  for (const m of mappings) {
    const start = BigInt(m.start);
    const gap = previousEnd === null ? 0 : Number(start - previousEnd);
    const gapWeight = gap > 0 ? 0.3 * weight(gap) : 0;
    layout.push({ m, at: total + gapWeight, width: weight(m.size) });
    total += gapWeight + weight(m.size);
    previousEnd = BigInt(m.end);
  }
  // Landmarks under the bands: the program, its heap, the first of each library, the stack.
  const labels = el("div", { class: "space-labels" });
  const named = new Set();
  let lastLabel = -100;
  for (const { m, at } of layout) {
    const name = m.kind === "heap" || m.kind === "stack" || m.kind === "vdso" ? `[${m.kind}]`
      : m.path && m.kind === "file" && (named.size === 0 || /\.so(\.|$)/.test(m.path)) ? m.path.split("/").pop() : null;
    const left = (100 * at) / total;
    if (!name || named.has(name) || left - lastLabel < 4) continue;
    named.add(name);
    lastLabel = left;
    labels.append(el("span", { style: `left:${left}%` }, name));
  }
  for (const { m, at, width } of layout) {
    const fill = m.size > 0 && m.rss !== undefined ? Math.min(1, m.rss / m.size) : 0;
    const band = el("div", {
      style: `left:${(100 * at) / total}%;width:${(100 * width) / total}%;background:${COLOURS[tint(m)]}`,
      "data-start": m.start,
    }, el("i", { style: `height:${(100 * fill).toFixed(1)}%` }));
    band.addEventListener("mouseenter", () => {
      hover.textContent = `${mapsLine(m)}   — rss ${human(m.rss)}, pss ${human(m.pss)}`;
    });
    space.append(band);
  }
  return el("div", {}, space, labels);
}

function legend() {
  return el("p", { class: "legend" }, Object.entries(COLOURS).map(([name, colour]) => el("span", {}, el("i", { style: `background:${colour}` }), name)),
    el("span", { class: "muted" }, "dark fill: the resident share (rss / size)"));
}

function mappingsTable(mappings) {
  return el("section", {}, el("h2", {}, "Mappings (like pmap -x)"),
    el("table", { id: "mappings" },
      el("thead", {}, el("tr", {}, ["address", "size", "rss", "pss", "mode", "mapping"].map((h, i) => el("th", { class: i === 0 || i > 3 ? "text" : null }, h)))),
      el("tbody", {}, mappings.map((m) => el("tr", {},
        el("td", { class: "text mono" }, m.start), bytesCell(m.size), bytesCell(m.rss), bytesCell(m.pss),
        el("td", { class: "text mono" }, m.perms), el("td", { class: "text" }, m.path ?? `[${m.kind}]`))))));
}

/** workingSet and pageFlags, when this memd answers them (rpc.discover). */
async function pageTruth(container, pid) {
  const [workingSet, pageFlags] = await Promise.all([has("workingSet"), has("pageFlags")]);
  const wss = el("section", { id: "working-set" }, el("h2", {}, "Working set"));
  const flags = el("section", { id: "page-flags" }, el("h2", {}, "Page flags"));
  container.append(wss, flags);
  if (!workingSet) {
    wss.append(el("p", { class: "muted" }, "This memd has no workingSet method (rpc.discover does not list it)."));
  } else {
    const out = el("div");
    const button = el("button", { id: "measure-wss", onclick: async () => {
      button.disabled = true;
      out.replaceChildren(el("p", { class: "muted" }, "clearing the referenced bits, waiting 1 s…"));
      try {
        const result = await call("workingSet", { pid, intervalMs: 1000, count: 1 });
        const s = result.samples[result.samples.length - 1];
        out.replaceChildren(el("table", {}, el("tbody", {},
          el("tr", {}, el("td", {}, "referenced in 1 s"), bytesCell(s.referenced ?? s.written)),
          el("tr", {}, el("td", {}, "of which anon"), bytesCell(s.anon)),
          el("tr", {}, el("td", {}, "of which file"), bytesCell(s.file)),
          el("tr", {}, el("td", {}, "rss"), bytesCell(s.rss)))));
      } catch (error) { out.replaceChildren(errorBox(error)); }
      button.disabled = false;
    } }, "Measure 1 s");
    wss.append(el("p", { class: "muted" }, "The pages it touched in one second (clears its referenced bits: reclaim sees them as unused for that second)."), button, out);
  }
  if (!pageFlags) {
    flags.append(el("p", { class: "muted" }, "This memd has no pageFlags method (rpc.discover does not list it)."));
  } else {
    try {
      const result = await call("pageFlags", { pid });
      flags.append(el("p", { class: "muted" }, `${result.pages.present} pages present, ${result.pages.swapped} swapped, ${result.pages.shared} shared`),
        el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "pages"), el("th", {}, "bytes"), el("th", { class: "text" }, "flags"))),
          el("tbody", {}, result.sets.slice(0, 12).map((set) => el("tr", {}, el("td", {}, set.pages), bytesCell(set.bytes),
            el("td", { class: "text" }, set.flags.map((f) => el("span", { class: "flag" }, f))))))));
    } catch (error) { flags.append(errorBox(error)); }
  }
}

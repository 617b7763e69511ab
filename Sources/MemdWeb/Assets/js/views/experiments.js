// Experiments: the seed's experiments run by memd (for real, in the simulator,
// or both), the progress drawn as it arrives, the figures side by side.
import { call, cancel, forget } from "../rpc.js";
import { el, errorBox, heading, human, setQuery } from "../format.js";
import { liveChart } from "../chart.js";

const EXPERIMENTS = {
  demandPaging: "Demand paging: memory is reserved at once but each page is given only when first touched — watch rss and the faults grow step by step.",
  cow: "Copy-on-write: after fork, parent and child share every page until one writes; the first write copies the page.",
  mmap: "mmap: a new mapping appears in the address space, with nothing resident until used.",
  malloc: "malloc: small requests come from the heap (brk), large ones from their own mmap.",
  filemap: "File maps: a file mapped into memory; writes through a shared mapping reach the file.",
  segv: "Segfault: an access no mapping allows ends the process with SIGSEGV at that address.",
  vmExhaustion: "Virtual memory exhaustion: reserving more address space than the limit allows fails, whatever RAM is free.",
  oom: "OOM: a process that keeps touching memory past its cgroup's max is killed by the kernel.",
};
const SIZES = [["10 MiB", 10485760], ["50 MiB", 52428800], ["100 MiB", 104857600], ["200 MiB", 209715200]];
let running = null;  // {promise, name}: an experiment outlives a visit to another view

export async function render(root, { query }) {
  const name = EXPERIMENTS[query.get("name")] ? query.get("name") : "demandPaging";
  const backend = ["real", "sim", "both"].includes(query.get("backend")) ? query.get("backend") : "both";
  const sizeBytes = Number.parseInt(query.get("sizeBytes") || "104857600", 10);
  root.append(...heading("Experiments", "The seed's experiments, run by memd in a child process (real), in its MMU simulator (sim), or both, measured from /proc as they happen."));
  const pick = (id, options, value) => el("select", { name: id, id }, options.map(([label, v]) => el("option", { value: v, selected: String(v) === String(value) }, label)));
  const form = el("form", { class: "controls", id: "experiment-form" },
    el("label", {}, "experiment", pick("name", Object.keys(EXPERIMENTS).map((k) => [k, k]), name)),
    el("label", {}, "backend", pick("backend", [["real", "real"], ["sim", "sim"], ["both", "both"]], backend)),
    el("label", {}, "size", pick("sizeBytes", SIZES.some(([, v]) => v === sizeBytes) ? SIZES : [...SIZES, [human(sizeBytes), sizeBytes]], sizeBytes)),
    el("button", { type: "submit", id: "run" }, "Run"),
    el("button", { type: "button", id: "cancel", class: "secondary", hidden: true }, "Cancel"));
  const lede = el("p", { id: "about" }, EXPERIMENTS[name]);
  const state = el("p", { id: "state", class: "muted" }, "Not started: press Run.");
  const chartBox = el("div", { id: "progress-chart" });
  const results = el("div", { id: "results" });
  root.append(form, lede, el("section", {}, el("h2", {}, "Progress"), state, chartBox), results);
  form.addEventListener("change", () => {
    const data = new FormData(form);
    location.hash = `#/experiments?name=${data.get("name")}&backend=${data.get("backend")}&sizeBytes=${data.get("sizeBytes")}`;
  });
  setQuery("experiments", { name, backend, sizeBytes });
  // Bytes touched before a fork, and bytes written (each write a copy) after it (cow's phases).
  const chart = liveChart(chartBox, { series: ["touched", "written after fork"], unit: "bytes", time: false, xLabel: "seconds" });
  const cancelButton = form.querySelector("#cancel");
  const runButton = form.querySelector("#run");

  const follow = (run) => {
    runButton.disabled = true;
    cancelButton.hidden = false;
    state.textContent = `Running ${run.name}…`;
    run.listener = (method, params) => {
      if (method !== "experiment.progress") return;
      state.textContent = `${params.phase}: ${params.message}`;
      if (params.touchedBytes === undefined) return;
      const written = params.phase === "writing" || params.phase === "afterWrite";
      chart.push((performance.now() - run.started) / 1000, written ? [null, params.touchedBytes] : [params.touchedBytes, null]);
    };
    run.promise.then((result) => {
      state.textContent = `Done in ${result.durationMs.toFixed(0)} ms.`;
      state.dataset.outcome = "done";
      results.replaceChildren(...figures(result));
    }, (error) => {
      state.dataset.outcome = error.code === -32006 ? "cancelled" : "error";
      state.replaceChildren(error.code === -32006 ? "Cancelled: memd killed the experiment's child." : errorBox(error));
    }).finally(() => {
      if (running === run) running = null;
      runButton.disabled = false;
      cancelButton.hidden = true;
    });
  };
  cancelButton.addEventListener("click", () => { if (running) cancel(running.promise.id); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (running) return;
    const params = { name, backend, progress: true };
    if (name === "demandPaging" || name === "cow" || name === "mmap" || name === "oom") params.sizeBytes = sizeBytes;
    const run = { name, started: performance.now(), listener: null };
    run.promise = call("runExperiment", params, (method, p) => run.listener && run.listener(method, p));
    running = run;
    results.replaceChildren();
    follow(run);
  });
  if (running) follow(running);
  return () => { if (running) running.listener = null; chart.destroy(); };
}

/** Each backend's figures side by side, their samples charted, and memd's comparison. */
function figures(result) {
  const sides = [["real", result.real], ["sim", result.sim]].filter(([, f]) => f);
  const nodes = [];
  const row = el("div", { class: "row" });
  for (const [side, f] of sides) {
    const box = el("section", { class: `figures figures-${side}` }, el("h2", {}, side === "real" ? "Real (a child process, from /proc)" : "Simulated (memd's MMU)"));
    // memd's figures as it named them; an object of figures (cow's child, beforeFork) one level down.
    const scalars = [];
    for (const [key, value] of Object.entries(f)) {
      if (value === null || typeof value !== "object") scalars.push([key, value]);
      else if (!Array.isArray(value)) {
        for (const [inner, v] of Object.entries(value)) {
          if (v === null || typeof v !== "object") scalars.push([`${key}.${inner}`, v]);
          else if (!Array.isArray(v)) for (const [deep, w] of Object.entries(v)) if (typeof w !== "object") scalars.push([`${key}.${inner}.${deep}`, w]);
        }
      }
    }
    box.append(el("table", {}, el("tbody", {}, scalars.map(([key, value]) =>
      el("tr", {}, el("td", {}, key), el("td", { class: "text mono", "data-key": key }, show(key, value)))))));
    if (Array.isArray(f.samples) && f.samples.length && f.samples[0].touchedBytes !== undefined) {
      const rssBox = el("div", { class: "samples-chart" });
      const faultBox = el("div", { class: "samples-chart" });
      box.append(el("h2", {}, "As pages are touched: rss, and minor faults"), rssBox, faultBox);
      requestAnimationFrame(() => {
        const touched = f.samples.map((s) => s.touchedBytes);
        const options = { unit: "bytes", xUnit: "bytes", time: false, xLabel: "touched", width: 480, height: 180 };
        liveChart(rssBox, { ...options, series: ["rss"] }).set([touched, f.samples.map((s) => s.rss)]);
        liveChart(faultBox, { ...options, unit: "", series: ["minflt"] }).set([touched, f.samples.map((s) => s.minflt)]);
      });
    }
    for (const [key, value] of Object.entries(f)) {
      if (Array.isArray(value) && value.length && typeof value[0] === "string") box.append(el("pre", {}, value.join("\n")));
      else if (key === "added" && Array.isArray(value)) box.append(el("p", {}, `mappings added: ${value.length}`), el("pre", {}, value.map((m) => `${m.start}-${m.end} ${m.perms} ${m.path ?? "[" + m.kind + "]"}`).join("\n")));
    }
    row.append(box);
  }
  nodes.push(row);
  if (result.comparison) {
    const pairs = Object.entries(result.comparison).filter(([, v]) => v && typeof v === "object" && ("real" in v || "sim" in v));
    const note = result.comparison.note;
    nodes.push(el("section", { id: "comparison" }, el("h2", {}, "Side by side"),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "real"), el("th", {}, "sim"))),
        el("tbody", {}, pairs.map(([key, v]) => el("tr", {}, el("td", {}, key), el("td", {}, show(key, v.real)), el("td", {}, show(key, v.sim)))))),
      note ? el("p", { class: "muted" }, note) : null));
  }
  return nodes;
}

function show(key, value) {
  if (value === null || value === undefined) return "–";
  // A figure in bytes, by memd's naming: shown as free -h would, with the exact bytes.
  const isBytes = /bytes|rss|vsz|size|used|growth|private|shared|step|pss|uss|swap|anon/i.test(key) && !/faults|count|pid|Ms$/i.test(key);
  if (typeof value === "number" && isBytes) return `${human(value)} (${value})`;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

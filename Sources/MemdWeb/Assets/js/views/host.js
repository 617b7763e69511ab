// Host: what free -h says, live, with pressure and sar -B's rates, from one watch.
import { call, forget } from "../rpc.js";
import { el, bytesCell, errorBox, heading, number } from "../format.js";
import { liveChart } from "../chart.js";

const RATES = [
  ["pgpgin/s", "pgpginPerSec"], ["pgpgout/s", "pgpgoutPerSec"], ["fault/s", "faultPerSec"], ["majflt/s", "majfltPerSec"],
  ["pgfree/s", "pgfreePerSec"], ["pgscank/s", "pgscankPerSec"], ["pgscand/s", "pgscandPerSec"], ["pgsteal/s", "pgstealPerSec"],
  ["%vmeff", "vmeffPercent"],
];

export async function render(root) {
  root.append(...heading("Host",
    "How much memory this machine has and who holds it, as free -h counts it; how hard the kernel works to find more (pressure, sar -B). One sample a second."));
  const freeTable = el("table", { id: "free" });
  const memory = el("div", { id: "memory-chart" });
  const pressure = el("div", { id: "pressure-chart" });
  const ratesTable = el("table", { id: "rates" },
    el("thead", {}, el("tr", {}, el("th", { class: "text" }, "time"), RATES.map(([label]) => el("th", {}, label)))), el("tbody"));
  const problem = el("div");
  root.append(
    problem,
    el("section", {}, el("h2", {}, "free -h"), freeTable),
    el("div", { class: "row" },
      el("section", {}, el("h2", {}, "Memory"), memory),
      el("section", {}, el("h2", {}, "Pressure (PSI, % of the last 10 s stalled on memory)"), pressure)),
    el("section", {}, el("h2", {}, "sar -B (paging, per second over the last interval)"), ratesTable),
  );
  const memoryChart = liveChart(memory, { series: ["used", "available", "buff/cache"], unit: "bytes" });
  const pressureChart = liveChart(pressure, { series: ["some", "full"], unit: "percent" });

  const watch = call("watch", { intervalMs: 1000 }, (method, sample) => {
    if (method !== "watch.sample" || !sample.meminfo) return;
    showFree(freeTable, sample.meminfo, sample.seq);
    const t = sample.time / 1000;
    memoryChart.push(t, [sample.meminfo.used, sample.meminfo.available, sample.meminfo.buffCache]);
    if (sample.pressure) {
      pressureChart.push(t, [sample.pressure.some.avg10, sample.pressure.full ? sample.pressure.full.avg10 : null]);
    }
    if (sample.rates) addRates(ratesTable.tBodies[0], sample);
  });
  watch.catch((error) => { if (error.code !== -32006) problem.replaceChildren(errorBox(error)); });

  return () => {
    // The watch ends normally (watch.stop); its summary is not needed any more.
    forget(watch.id);
    call("watch.stop", { id: watch.id }).catch(() => {});
    memoryChart.destroy();
    pressureChart.destroy();
  };
}

function showFree(table, m, seq) {
  table.dataset.seq = seq;
  table.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, ""), ["total", "used", "free", "shared", "buff/cache", "available"].map((h) => el("th", {}, h)))),
    el("tbody", {},
      el("tr", { id: "free-mem" }, el("td", {}, "Mem:"),
        ...[["total", m.total], ["used", m.used], ["free", m.free], ["shared", m.shared], ["buffCache", m.buffCache], ["available", m.available]]
          .map(([key, value]) => { const cell = bytesCell(value); cell.dataset.key = key; return cell; })),
      el("tr", { id: "free-swap" }, el("td", {}, "Swap:"),
        ...[["swapTotal", m.swapTotal], ["swapUsed", m.swapUsed], ["swapFree", m.swapFree]]
          .map(([key, value]) => { const cell = bytesCell(value); cell.dataset.key = key; return cell; }))),
  );
}

function addRates(body, sample) {
  const time = new Date(sample.time).toLocaleTimeString();
  body.prepend(el("tr", {}, el("td", { class: "text" }, time), RATES.map(([, key]) => el("td", {}, number(sample.rates[key])))));
  while (body.rows.length > 10) body.deleteRow(body.rows.length - 1);
}

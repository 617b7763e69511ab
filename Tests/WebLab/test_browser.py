"""The lab in a real browser: Debian's chromium, headless, through chromium-driver
and selenium, against a real memd and a real `memctl web` (web.md §3).

Screenshots of each view go to $MEMD_WEB_SCREENSHOTS (default: a new temporary
directory, printed), never into the repository."""

import base64
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, bin_dir  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

LAB = None
DRIVER = None
SHOTS = None
SLEEPER = None


def setUpModule():
    global LAB, DRIVER, SHOTS, SLEEPER
    SHOTS = os.environ.get("MEMD_WEB_SCREENSHOTS") or tempfile.mkdtemp(prefix="memd-web-shots-")
    os.makedirs(SHOTS, exist_ok=True)
    print(f"\nscreenshots: {SHOTS}", file=sys.stderr)
    LAB = Lab(bin_dir())
    # A process with a known address: its stack, touched, so the page is present.
    SLEEPER = subprocess.Popen(["sleep", "300"])
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    DRIVER = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    DRIVER.set_page_load_timeout(30)
    DRIVER.get(LAB.url)


def tearDownModule():
    if DRIVER:
        DRIVER.quit()
    if SLEEPER:
        SLEEPER.kill()
        SLEEPER.wait()
    LAB.stop()


def console_errors():
    return [entry for entry in DRIVER.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def open_view(hash_, name, timeout=20):
    DRIVER.execute_script("location.hash = arguments[0]", hash_)
    WebDriverWait(DRIVER, timeout).until(
        lambda d: d.execute_script(
            "const v = document.getElementById('view'); return v.dataset.view === arguments[0] && v.dataset.ready === 'true'",
            name,
        )
    )


def wait(condition, timeout=30, message=""):
    return WebDriverWait(DRIVER, timeout).until(lambda d: condition(), message)


def shoot(name):
    """The whole page, not only the window (Chrome's DevTools protocol)."""
    size = DRIVER.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}
    shot = DRIVER.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
    with open(os.path.join(SHOTS, f"{name}.png"), "wb") as file:
        file.write(base64.b64decode(shot["data"]))


DRAWN_PIXELS = """
const canvas = document.querySelector(arguments[0] + ' canvas');
if (!canvas) return 0;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let drawn = 0;
for (let i = 0; i < data.length; i += 4) {
  const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
  if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) drawn++;  // a coloured series, not the grey grid
}
return drawn;
"""


class Views(unittest.TestCase):
    def tearDown(self):
        errors = console_errors()
        self.assertEqual(errors, [], f"console errors in {self.id()}")

    def test_1_host_figures_equal_meminfo_and_charts_draw(self):
        open_view("#/host", "host")
        wait(lambda: DRIVER.execute_script("return Number(document.querySelector('#free')?.dataset.seq ?? -1) >= 2"),
             message="three watch samples")
        # Bracket one sample: memd's meminfo read just before and just after the page shows it.
        memd = LAB.client()
        seq = DRIVER.execute_script("return Number(document.querySelector('#free').dataset.seq)")
        before = memd.call("meminfo")
        wait(lambda: DRIVER.execute_script("return Number(document.querySelector('#free').dataset.seq)") > seq,
             timeout=5, message="the next sample")
        after = memd.call("meminfo")
        shown = DRIVER.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#free td[data-key]')].map(c => [c.dataset.key, Number(c.dataset.bytes)]))"
        )
        memd.close()
        for key in ["total", "swapTotal"]:
            self.assertEqual(shown[key], before[key], key)
        for key in ["used", "free", "shared", "buffCache", "available", "swapUsed", "swapFree"]:
            low = min(before[key], after[key])
            high = max(before[key], after[key])
            slack = 32 << 20  # what moves in the milliseconds between a read and the sample
            self.assertTrue(low - slack <= shown[key] <= high + slack, f"{key}: page {shown[key]}, memd {low}..{high}")
        # The same units as free -h: its text for the figures that do not move.
        free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=True).stdout.splitlines()
        mem, swap = free[1].split(), free[2].split()
        text = DRIVER.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#free td[data-key]')].map(c => [c.dataset.key, c.textContent]))"
        )
        self.assertEqual(text["total"], mem[1])
        self.assertEqual([text["swapTotal"], text["swapUsed"], text["swapFree"]], swap[1:4])
        self.assertGreater(DRIVER.execute_script(DRAWN_PIXELS, "#memory-chart"), 50, "memory chart has drawn points")
        span = float(DRIVER.execute_script("return document.querySelector('#memory-chart').dataset.xSpan"))
        self.assertTrue(60 <= span <= 600, f"memory chart spans {span} s")
        rates = DRIVER.execute_script("return document.querySelectorAll('#rates tbody tr').length")
        self.assertGreaterEqual(rates, 1)
        shoot("host")

    def test_2_processes_table_and_a_click_opens_the_process(self):
        open_view("#/processes?by=process&sort=pss", "processes")
        rows = DRIVER.find_elements(By.CSS_SELECTOR, "#usage tbody tr")
        self.assertGreater(len(rows), 3)
        shoot("processes")
        pid = rows[0].get_attribute("data-pid")
        rows[0].click()
        wait(lambda: DRIVER.execute_script("return document.getElementById('view').dataset.view === 'process' && document.getElementById('view').dataset.ready === 'true'"))
        self.assertTrue(DRIVER.current_url.endswith(f"#/process/{pid}"))
        open_view("#/processes?by=process&sort=pss", "processes")
        DRIVER.find_element(By.CSS_SELECTOR, "#usage th[data-sort='rss']").click()
        wait(lambda: DRIVER.execute_script(
            "return document.getElementById('view').dataset.ready === 'true' &&"
            " document.querySelector('#usage th.sorted')?.dataset.sort === 'rss'"))
        rss = DRIVER.execute_script(
            "return [...document.querySelectorAll('#usage tbody tr td:nth-child(4)')].map(c => Number(c.dataset.bytes))")
        self.assertEqual(rss, sorted(rss, reverse=True), "memd's order by rss")
        open_view("#/processes?by=user", "processes")
        self.assertGreater(len(DRIVER.find_elements(By.CSS_SELECTOR, "#usage tbody tr")), 0)

    def test_3_process_address_space_drawn(self):
        open_view(f"#/process/{SLEEPER.pid}", "process")
        memd = LAB.client()
        maps = memd.call("maps", {"pid": SLEEPER.pid})
        memd.close()
        bands = DRIVER.find_elements(By.CSS_SELECTOR, "#space > div")
        self.assertEqual(len(bands), len(maps["mappings"]))
        stack = next(m for m in maps["mappings"] if m["kind"] == "stack")
        band = DRIVER.find_element(By.CSS_SELECTOR, f"#space > div[data-start='{stack['start']}']")
        webdriver.ActionChains(DRIVER).move_to_element(band).perform()
        line = DRIVER.find_element(By.ID, "maps-line").text
        self.assertTrue(line.startswith(stack["start"][2:] + "-" + stack["end"][2:]), line)
        self.assertIn("[stack]", line)
        wait(lambda: DRIVER.execute_script(DRAWN_PIXELS, "#rss-chart") > 20, message="rss chart drawn")
        # From its first sample on, a live chart's time axis is the last minute or so, not years.
        span = float(DRIVER.execute_script("return document.querySelector('#rss-chart').dataset.xSpan"))
        self.assertTrue(60 <= span <= 600, f"rss chart spans {span} s")
        self.assertTrue(DRIVER.find_elements(By.CSS_SELECTOR, "#working-set, #page-flags"))
        self.page_truth_equals_memds()
        shoot("process")

    def page_truth_equals_memds(self):
        """Where memd has pageFlags and workingSet (rpc.discover), the page shows memd's figures."""
        memd = LAB.client()
        methods = {m["name"] for m in memd.call("rpc.discover")["methods"]}
        try:
            if "pageFlags" in methods:
                truth = memd.call("pageFlags", {"pid": SLEEPER.pid})
                wait(lambda: DRIVER.find_elements(By.CSS_SELECTOR, "#page-flags tbody tr"), message="page flags")
                summary = DRIVER.find_element(By.CSS_SELECTOR, "#page-flags p").text
                self.assertTrue(summary.startswith(f"{truth['pages']['present']} pages present"), summary)
                shown = DRIVER.execute_script(
                    "return [...document.querySelectorAll('#page-flags tbody tr')].map(r => Number(r.cells[0].textContent))")
                # Two reads of the flags (the page's, then this one) can split or merge a set or two:
                # referenced and active move between them (this host's DAMON touches them).
                self.assertLessEqual(abs(len(shown) - min(12, len(truth["sets"]))), 2, (shown, len(truth["sets"])))
                self.assertLessEqual(sum(shown), truth["pages"]["present"])
            if "workingSet" in methods:
                DRIVER.find_element(By.ID, "measure-wss").click()
                wait(lambda: len(DRIVER.find_elements(By.CSS_SELECTOR, "#working-set td[data-bytes]")) == 4,
                     timeout=15, message="a working-set sample")
                referenced, anon, file, rss = DRIVER.execute_script(
                    "return [...document.querySelectorAll('#working-set td[data-bytes]')].map(c => Number(c.dataset.bytes))")
                self.assertEqual(referenced, anon + file)
                self.assertTrue(0 <= referenced <= rss and rss > 0, (referenced, rss))
        finally:
            memd.close()

    def test_4_translate_shows_the_indices_and_the_frame(self):
        memd = LAB.client()
        maps = memd.call("maps", {"pid": SLEEPER.pid})
        stack = next(m for m in maps["mappings"] if m["kind"] == "stack")
        # The top page of the stack holds the arguments and environment: present.
        address = hex(int(stack["end"], 16) - 0x10)
        truth = memd.call("simulateTranslation", {"pid": SLEEPER.pid, "addresses": [address], "trace": True})["translations"][0]
        memd.close()
        self.assertTrue(truth["present"])
        open_view(f"#/translate?pid={SLEEPER.pid}&address={address}", "translate")
        for level in ["pml4", "pdpt", "pd", "pt"]:
            cell = DRIVER.find_element(By.CSS_SELECTOR, f"#split [data-level='{level}']")
            self.assertEqual(int(cell.get_attribute("data-index")), truth["indices"][level], level)
            self.assertIn(f"index {truth['indices'][level]}", cell.text)
        offset = DRIVER.find_element(By.CSS_SELECTOR, "#split [data-level='offset']")
        self.assertIn(hex(truth["indices"]["offset"]), offset.text)
        steps = DRIVER.find_elements(By.CSS_SELECTOR, "#real .walk .step[data-level]")
        self.assertEqual([step.get_attribute("data-level") for step in steps], ["pml4", "pdpt", "pd", "pt"])
        for step in steps:
            self.assertIn(f"index {truth['indices'][step.get_attribute('data-level')]}", step.text)
        pfn = DRIVER.find_element(By.ID, "pfn")
        self.assertEqual(pfn.get_attribute("data-pfn"), str(truth["pfn"]))
        self.assertIn(str(truth["pfn"]), pfn.text)
        DRIVER.find_element(By.ID, "simulate").click()
        wait(lambda: len(DRIVER.find_elements(By.CSS_SELECTOR, "#simulated .sim-outcome")) == 2, message="simulated walk")
        outcomes = [e.text for e in DRIVER.find_elements(By.CSS_SELECTOR, "#simulated .sim-outcome")]
        walked = DRIVER.find_elements(By.CSS_SELECTOR, "#simulated .simulated-walk:first-child .step[data-level]")
        self.assertEqual([step.get_attribute("data-level") for step in walked], ["pml4", "pdpt", "pd", "pt"])
        for step in walked:
            self.assertIn(f"index {truth['indices'][step.get_attribute('data-level')]}", step.text)
        self.assertEqual(outcomes[1], "tlbHit")
        shoot("translate")

    def test_4_translate_in_a_simulated_machine(self):
        memd = LAB.client()
        machine = memd.call("sim.create", {})["machine"]
        pid = memd.call("sim.spawn", {"machine": machine})["pid"]
        address = "0x410008"  # in the simulated program's data segment
        truth = memd.call("simulateTranslation", {"machine": machine, "pid": pid, "addresses": [address], "dryRun": True})
        try:
            open_view(f"#/translate?machine={machine}&pid={pid}&address={address}", "translate")
            steps = DRIVER.find_elements(By.CSS_SELECTOR, ".simulated-walk .step[data-level]")
            self.assertEqual([step.get_attribute("data-level") for step in steps], ["pml4", "pdpt", "pd", "pt"])
            indices = truth["translations"][0]["indices"]
            for step in steps:
                self.assertIn(f"index {indices[step.get_attribute('data-level')]}", step.text)
            outcome = DRIVER.find_element(By.CSS_SELECTOR, ".sim-outcome").text
            self.assertIn(outcome, ["minorFault", "majorFault", "translated", "tlbHit"])
            shoot("translate-machine")
        finally:
            memd.call("sim.destroy", {"machine": machine})
            memd.close()

    def test_5_an_experiment_run_from_the_page_completes_and_cancel_cancels(self):
        open_view("#/experiments?name=demandPaging&backend=both&sizeBytes=52428800", "experiments")
        DRIVER.find_element(By.ID, "run").click()
        wait(lambda: DRIVER.find_element(By.ID, "state").get_attribute("data-outcome") is not None, timeout=90,
             message="the experiment ends")
        self.assertEqual(DRIVER.find_element(By.ID, "state").get_attribute("data-outcome"), "done",
                         DRIVER.find_element(By.ID, "state").text)
        self.assertTrue(DRIVER.find_elements(By.CSS_SELECTOR, ".figures-real"))
        self.assertTrue(DRIVER.find_elements(By.CSS_SELECTOR, ".figures-sim"))
        self.assertGreater(DRIVER.execute_script(DRAWN_PIXELS, "#progress-chart"), 20, "progress chart drawn")
        wait(lambda: DRIVER.execute_script(DRAWN_PIXELS, ".figures-real .samples-chart") > 20, message="samples drawn")
        shoot("experiments")
        # Cancel: a run of 1 GiB, cancelled when its first progress arrives.
        open_view("#/experiments?name=demandPaging&backend=real&sizeBytes=1073741824", "experiments")
        DRIVER.find_element(By.ID, "run").click()
        cancel = DRIVER.find_element(By.ID, "cancel")
        self.assertTrue(cancel.is_displayed(), "Cancel shown while running")
        wait(lambda: "touch" in DRIVER.find_element(By.ID, "state").text or
             DRIVER.find_element(By.ID, "state").get_attribute("data-outcome"), timeout=30, message="first progress")
        cancel.click()
        wait(lambda: DRIVER.find_element(By.ID, "state").get_attribute("data-outcome") is not None, timeout=60)
        self.assertEqual(DRIVER.find_element(By.ID, "state").get_attribute("data-outcome"), "cancelled",
                         DRIVER.find_element(By.ID, "state").text)

    def test_6_memd_errors_are_sentences(self):
        open_view("#/process/4194304", "process")
        error = DRIVER.find_element(By.CSS_SELECTOR, "#view .error").text
        self.assertIn("process 4194304 not found", error)
        # The lab has the rights of whoever started it: memctl web as nobody may not read init's mappings,
        # and the page says whose process it is and why.
        nobody = Lab(bin_dir(), web_uid=65534)
        try:
            DRIVER.get(nobody.url + "#/process/1")
            wait(lambda: DRIVER.execute_script("return document.getElementById('view')?.dataset.ready === 'true'"))
            error = DRIVER.find_element(By.CSS_SELECTOR, "#view .error").text
            self.assertIn("permission denied for process 1: process 1 belongs to uid 0, not to you (uid 65534)", error)
        finally:
            nobody.stop()
            DRIVER.get(LAB.url)

    def test_6_cgroups_tree(self):
        open_view("#/cgroups", "cgroups")
        rows = DRIVER.find_elements(By.CSS_SELECTOR, "#cgroups tbody tr")
        memd = LAB.client()
        groups = memd.call("cgroups")["groups"]
        memd.close()
        self.assertEqual([r.get_attribute("data-path") for r in rows], [g["path"] for g in groups])
        shoot("cgroups")

    def test_7_memd_gone_shows_a_banner_and_the_page_reconnects(self):
        open_view("#/cgroups", "cgroups")
        LAB.memd.terminate()
        LAB.memd.wait()
        wait(lambda: DRIVER.find_element(By.ID, "banner").is_displayed(), message="banner")
        self.assertIn("memd went away", DRIVER.find_element(By.ID, "banner").text)
        LAB.restart_memd()
        wait(lambda: not DRIVER.find_element(By.ID, "banner").is_displayed(), timeout=20, message="reconnected")
        open_view("#/host", "host")
        DRIVER.get_log("browser")  # the failed WebSocket attempts while memd was gone are the point of this test


if __name__ == "__main__":
    unittest.main(verbosity=2)

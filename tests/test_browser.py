"""report.html in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium 4, at 1400 px and 420 px wide.

Two reports are checked (built once per test process by report_synthetic.built): the
committed fixtures (old files) and synthetic files with everything the newest harness
records (raw samples, a grid, memory, two thread counts, the peers), so every view is
on a page. Each page and width is loaded once; one script reads everything the checks
need, and a screenshot of the first screen is saved into the test's tmp folder; when
``MLPBENCH_SCREENSHOTS=DIR`` is set, screenshots of the whole page too, copied into DIR
for a person to look at (whole-page captures take most of this module's time).

Skipped, with the reason, where Chromium, ChromeDriver or the selenium package is absent.
The driver is always given explicitly (``Service(chromedriver)``) so that selenium-manager
never tries to download a browser or a driver.

"""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import pytest
import report_synthetic as synthetic

KINDS = ("fixtures", "rich")

WIDE, NARROW = 1400, 420
WIDTHS = (WIDE, NARROW)
HEIGHT = 900
#: Chromium cannot capture taller than its largest texture (16384 px): a longer page is
#: saved in parts of at most this height.
MAX_SHOT_HEIGHT = 12000

#: One pass over the loaded page; returns plain data for the checks below.
MEASURE_JS = r"""
const box = e => { const r = e.getBoundingClientRect();
                   return {left: r.left, right: r.right, width: r.width, height: r.height}; };
const name = e => {
  const cap = e.tagName === 'TABLE' && e.caption ? e.caption.textContent.trim() : '';
  return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
         + (cap ? ' "' + cap.slice(0, 50) + '"' : '');
};
const vw = window.innerWidth;
// outermost elements that stick out past the right edge of the viewport
const wide = [];
for (const e of document.body.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.right > vw + 1 && !(e.parentElement && e.parentElement !== document.body
                            && e.parentElement.getBoundingClientRect().right > vw + 1)) {
    wide.push(name(e) + ' right=' + Math.round(r.right) + 'px');
  }
}
const meta = document.querySelector('meta[name="viewport"]');
return {
  innerWidth: vw,
  scrollWidth: document.documentElement.scrollWidth,
  scrollHeight: document.documentElement.scrollHeight,
  wide: wide.slice(0, 20),
  viewport: meta ? meta.getAttribute('content') : null,
  images: Array.from(document.images, (img, i) => ({
    label: img.alt || ('img #' + i), complete: img.complete,
    naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, box: box(img)})),
  svgs: Array.from(document.querySelectorAll('svg'))
    .filter(s => !(s.parentElement && s.parentElement.closest('svg')))
    .map((s, i) => ({label: s.getAttribute('aria-label') || s.id || ('svg #' + i),
                     box: box(s)})),
  hover: document.querySelectorAll('svg title').length,
  toc: Array.from(document.querySelectorAll('nav.toc a[href^="#"]'), a => a.getAttribute('href')),
  links: Array.from(document.querySelectorAll('a[href^="#"]'), a => {
    const href = a.getAttribute('href');
    let id = href.slice(1);
    try { id = decodeURIComponent(id); } catch (err) {}
    return {href: href, text: a.textContent.trim().slice(0, 60),
            resolves: id !== '' && document.getElementById(id) !== null};
  }),
  sections: Array.from(document.querySelectorAll('h2'),
                       h => ({text: h.textContent.trim().slice(0, 60), id: h.id || null})),
};
"""

IMAGES_SETTLED_JS = "return Array.from(document.images).every(img => img.complete);"


def _find(*names: str) -> str | None:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def report_html() -> dict[str, Path]:
    return {kind: synthetic.built(kind).report.html for kind in KINDS}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip(
        "selenium.webdriver",
        reason="the selenium package is not installed (pip install 'selenium>=4.11')")
    from selenium.webdriver.chrome.service import Service

    binary = _find("chromium", "chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium "
                    "chromium-driver)")
    driver_path = _find("chromedriver")
    if driver_path is None:
        pytest.skip("ChromeDriver is not installed (Debian: apt-get install chromium-driver)")

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    # --no-sandbox: the page is the project's own local file, and Chromium's sandbox does
    # not start as root or in many containers. The network flags keep a closed network
    # from being asked anything.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--window-size={WIDE},{HEIGHT}",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(120)
    try:
        yield drv
    finally:
        drv.quit()


def _screenshots(drv, folder: Path, width: int, kind: str, full: bool) -> list[Path]:
    """The first screen, then (``full``) the whole page, in parts where it is very long."""
    paths = [folder / f"{kind}-{width}px.png"]
    shot = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    paths[0].write_bytes(base64.b64decode(shot["data"]))
    if not full:
        return paths
    h = drv.execute_script("return document.documentElement.scrollHeight;")
    w = drv.execute_script("return document.documentElement.scrollWidth;")
    parts = -(-h // MAX_SHOT_HEIGHT)
    for k in range(parts):
        top = k * MAX_SHOT_HEIGHT
        clip = {"x": 0, "y": top, "width": max(w, width),
                "height": min(MAX_SHOT_HEIGHT, h - top), "scale": 1}
        shot = drv.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "clip": clip})
        p = folder / (f"{kind}-{width}px-full.png" if parts == 1
                      else f"{kind}-{width}px-full-{k + 1}of{parts}.png")
        p.write_bytes(base64.b64decode(shot["data"]))
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def pages(browser, report_html, tmp_path_factory) -> dict:
    """``{(kind, width): measurements}``, screenshots saved on the way."""
    shots = tmp_path_factory.mktemp("screenshots")
    extra = os.environ.get("MLPBENCH_SCREENSHOTS")
    extra = Path(extra) if extra else None
    if extra is not None:
        extra.mkdir(parents=True, exist_ok=True)
    result = {}
    for kind in KINDS:
        for width in WIDTHS:
            # an exact CSS viewport (the window size alone includes the browser's frame)
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
            browser.get(report_html[kind].as_uri())
            deadline = time.monotonic() + 30
            while not browser.execute_script(IMAGES_SETTLED_JS) and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            m = browser.execute_script(MEASURE_JS)
            files = _screenshots(browser, shots, width, kind, full=extra is not None)
            if extra is not None:
                for p in files:
                    shutil.copyfile(p, extra / p.name)
            browser.execute_script("window.scrollTo(0, 0);")
            m["screenshots"] = files
            result[(kind, width)] = m
    return result


def _no_sideways_scroll(m: dict) -> None:
    assert m["scrollWidth"] <= m["innerWidth"] + 1, (
        f"at {m['innerWidth']} px the page is {m['scrollWidth']} px wide and scrolls "
        f"sideways; outermost elements past the right edge: {m['wide']}")


# --- the checks --------------------------------------------------------------------------

PAGES = [(kind, width) for kind in KINDS for width in WIDTHS]
IDS = [f"{kind}-{width}px" for kind, width in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_figure_loads_and_has_a_size(pages, page):
    m = pages[page]
    assert m["images"] or m["svgs"], "the report shows no figure at all"
    broken = [i["label"] for i in m["images"]
              if not (i["complete"] and i["naturalWidth"] > 0 and i["naturalHeight"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    empty = [f["label"] for f in m["images"] + m["svgs"]
             if f["box"]["width"] <= 0 or f["box"]["height"] <= 0]
    assert not empty, f"figures drawn with no size: {empty}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_figures_fit_the_viewport(pages, page):
    m = pages[page]
    out = [f["label"] for f in m["images"] + m["svgs"]
           if f["box"]["left"] < -1 or f["box"]["right"] > m["innerWidth"] + 1]
    assert not out, f"figures cut off: {out}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_sideways_scroll(pages, page):
    _no_sideways_scroll(pages[page])


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_in_page_links_resolve(pages, page):
    bad = [(a["href"], a["text"]) for a in pages[page]["links"] if not a["resolves"]]
    assert not bad, f"links to no element with that id: {bad}"


@pytest.mark.parametrize("kind", KINDS)
def test_table_of_contents_links_every_section(pages, kind):
    m = pages[(kind, WIDE)]
    assert m["toc"], "no table of contents: no nav.toc a[href^='#'] link"
    targets = {href[1:] for href in m["toc"]}
    unlinked = [s["text"] for s in m["sections"] if not s["id"] or s["id"] not in targets]
    assert not unlinked, f"sections (h2) the table of contents does not link to: {unlinked}"


@pytest.mark.parametrize("kind", KINDS)
def test_viewport_meta_for_phones(pages, kind):
    content = (pages[(kind, NARROW)]["viewport"] or "").replace(" ", "")
    assert "width=device-width" in content, (
        f"<meta name='viewport'> is {pages[(kind, NARROW)]['viewport']!r}; "
        "want content='width=device-width, initial-scale=1'")


@pytest.mark.parametrize("kind", KINDS)
def test_plotted_values_are_readable_by_hovering(pages, kind):
    m = pages[(kind, WIDE)]
    assert m["svgs"] and m["hover"] >= 10 * len(m["svgs"]) // 2, (
        f"{m['hover']} hover titles for {len(m['svgs'])} inline figures")


def test_screenshots_are_saved(pages):
    for m in pages.values():
        for p in m["screenshots"]:
            head = p.read_bytes()[:8]
            assert head == b"\x89PNG\r\n\x1a\n", f"{p} is not a PNG"

"""The HTML report in a real browser: headless Chromium, driven through Playwright.

Hostile model text (answers, questions, names) runs nothing and shows as text, with the
Content-Security-Policy and without it (escaping alone must suffice); and a report as wide as
the study's fits a laptop-width window: no sideways scrolling, no table wider than the page.

Needs a Chromium binary (/usr/bin/chromium, or $VIGC_CHROMIUM) and the `browser` extra
(`pip install -e '.[browser]'`); skipped without either. See the README, "Reports".
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.core.records import QualityRecord, SampleRecord
from reports.html import CSP, render_html
from reports.markdown import QUALITY_COLUMNS
from reports.run_data import load_run
from tests.reports._runfixture import EVIL, VIC, default_samples, make_run, quality_rows

CHROMIUM = Path(os.environ.get("VIGC_CHROMIUM", "/usr/bin/chromium"))
# .ci/run sets VIGC_REQUIRE_BROWSER: there a missing browser or driver is a failure, not a skip.
_REQUIRED = os.environ.get("VIGC_REQUIRE_BROWSER") == "1"
if not CHROMIUM.is_file():
    _why = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set VIGC_CHROMIUM)"
    if _REQUIRED:
        raise RuntimeError(_why)
    pytest.skip(_why, allow_module_level=True)
try:
    from playwright import sync_api
except ImportError:
    if _REQUIRED:
        raise
    pytest.skip("playwright not installed (pip install -e '.[test]')", allow_module_level=True)

# A closed network: anything that phones home (updates, sync, QUIC probes) is turned off, so
# the browser neither waits on refused connections nor reaches out when it can.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTHS = (1280, 1024)  # a laptop and a small laptop window, CSS pixels
# Each sets window.__pwned if any part of it runs: tags, attribute break-outs, auto-firing events.
PWN = ("<script>window.__pwned=1</script>",
       '<img src=x onerror="window.__pwned=1">',
       '"><svg onload="window.__pwned=1">',
       "</pre><details open ontoggle=\"window.__pwned=1\">x</details>",
       "<iframe srcdoc=\"<script>parent.__pwned=1</script>\"></iframe>",
       "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__pwned=1\">")
BAD_TARGET = 'llava<img src=x onerror="window.__pwned=1">'
BAD_CATEGORY = "coarse<script>window.__pwned=1</script>"
CSP_META = f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module, with a fresh profile directory."""
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield ctx
        ctx.close()


class Loaded:
    """A page opened from a file, with every dialog and request it made."""

    def __init__(self, browser: Any, path: Path, width: int = WIDTHS[0]) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.set_viewport_size({"width": width, "height": 800})
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_timeout(300)  # events such as toggle fire after load

    def _dialog(self, d: Any) -> None:
        self.dialogs.append(d.message)
        d.dismiss()

    def pwned(self) -> Any:
        """window.__pwned: None unless something hostile ran."""
        return self.page.evaluate("() => window.__pwned")


def _hostile(s: SampleRecord, i: int) -> SampleRecord:
    """A sample whose question, answer, reference, target and category carry hostile markup."""
    cats = tuple(BAD_CATEGORY if c == "coarse_perception" else c for c in s.categories)
    pred = f"{PWN[i % len(PWN)]} {s.prediction}"
    return s.model_copy(update={"prompt": f"{s.prompt} {PWN[(i + 1) % len(PWN)]}", "prediction": pred,
                                "reference": f"{s.reference} {PWN[(i + 2) % len(PWN)]}",
                                "target": BAD_TARGET, "categories": cats})


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of the fixture run, every file-borne string laced with PWN (and the fixture's EVIL)."""
    root = tmp_path_factory.mktemp("hostile")
    samples = [_hostile(s, i) for i, s in enumerate(default_samples())]
    quality = [q.model_copy(update={"data_type": PWN[1]}) for q in quality_rows()]
    run_dir = make_run(root / "run", samples=samples, quality=quality)
    (run_dir / "vic_effect.json").write_text(json.dumps({PWN[0]: VIC["all"]}))
    page = render_html(load_run(run_dir), f"report {PWN[0]}")
    assert CSP_META in page
    out = root / "report.html"
    out.write_text(page)
    return out


def _assert_nothing_ran(loaded: Loaded) -> None:
    assert loaded.pwned() is None, "hostile markup ran"
    assert loaded.dialogs == [], f"a dialog opened: {loaded.dialogs}"
    elsewhere = [u for u in loaded.requests if not u.startswith(("file:", "data:"))]
    assert not elsewhere, f"the page asked for {elsewhere}"
    found = loaded.page.evaluate("""() => {
        const bad = [...document.querySelectorAll('script,iframe,svg,object,embed,meta[http-equiv=refresh]')]
            .map(e => e.tagName);
        for (const e of document.querySelectorAll('*'))
            for (const a of e.attributes) if (a.name.startsWith('on')) bad.push(e.tagName + '@' + a.name);
        return bad; }""")
    assert found == [], f"hostile elements in the DOM: {found}"


@pytest.mark.parametrize("with_csp", [True, False], ids=["csp", "escaping-alone"])
def test_hostile_text_runs_nothing_and_shows_as_text(browser: Any, hostile_page: Path, tmp_path: Path,
                                                     with_csp: bool) -> None:
    """Nothing runs, nothing is fetched, no hostile element exists, and every hostile string reads as text."""
    path = hostile_page
    if not with_csp:  # the escaping must hold on its own, not only behind the policy
        path = tmp_path / "no-csp.html"
        path.write_text(hostile_page.read_text().replace(CSP_META, ""))
    loaded = Loaded(browser, path)
    _assert_nothing_ran(loaded)
    assert (CSP_META in loaded.page.content()) == with_csp
    loaded.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    text = loaded.page.inner_text("body")
    for s in (*PWN, *EVIL, BAD_TARGET, BAD_CATEGORY):
        assert s in text, f"not shown as text: {s}"
    assert loaded.page.title() == f"report {PWN[0]}"


@pytest.mark.parametrize("with_csp", [True, False], ids=["csp", "no-csp"])
def test_the_probe_sees_markup_run_and_the_policy_stops_it(browser: Any, hostile_page: Path, tmp_path: Path,
                                                           with_csp: bool) -> None:
    """Unescaped markup planted in the page: it must run without the CSP (else the checks above
    prove nothing) and must not run with it (else the CSP is no second line)."""
    page = hostile_page.read_text().replace("<body>", "<body>" + PWN[1], 1)
    path = tmp_path / "planted.html"
    path.write_text(page if with_csp else page.replace(CSP_META, ""))
    expected = None if with_csp else 1
    assert Loaded(browser, path).pwned() == expected


def _score(*key: object) -> float:
    """A fixed pseudo-random hit (0 or 1) per key, about 60% hits."""
    return float(int(hashlib.sha256(repr(key).encode()).hexdigest(), 16) % 10 < 6)


def _wide_samples() -> list[SampleRecord]:
    """Samples shaped like the tiny study's: 15 models, six benchmarks, many long category names."""
    mm_cats = ("attribute_reasoning", "coarse_perception", "finegrained_perception (cross-instance)",
               "finegrained_perception (instance-level)", "logic_reasoning", "relation_reasoning")
    sqa_cats = ("NAT", "SOC", "LAN", "TXT", "IMG", "NO", "G1-6", "G7-12")
    word = "square" * 50  # one unbroken word in every question and some answers: examples must wrap it
    out: list[SampleRecord] = []
    for t in ("llava", "instructblip_vicuna7b_with_a_long_name", "llava-blind"):
        for src in ("seed", "seed+lang", "seed+vig", "seed+vigc", "seed+gold"):
            def add(bench: str, split: str, metric: str, item: str, cats: tuple[str, ...] = (),
                    group: str | None = None, weight: float = 1.0, pred: str = "yes") -> None:
                out.append(SampleRecord(target=t, source=src, benchmark=bench, split=split, item_id=item, group=group,
                                        categories=cats, prompt=f"{bench} {word} question {item}?", prediction=pred,
                                        extracted=pred[:20], reference="yes", metric=metric,
                                        score=_score(t, src, bench, split, item), weight=weight,
                                        image="images/a.png"))

            for split in ("random", "popular", "adversarial"):
                for i in range(30):
                    add("pope", split, "accuracy", str(i), pred="A" * 300 if i % 3 == 0 else "yes")
            for q in range(24):
                for k in range(2):
                    add("mmbench", "dev", "overall", str(q + k * 1_000_000), (mm_cats[q % 6],), group=str(q))
            for i in range(32):
                add("scienceqa", "test", "accuracy", str(i), (sqa_cats[i % 8], sqa_cats[(i + 3) % 8]))
                add("okvqa", "val", "accuracy", str(i))
                add("aokvqa", "val", "mc_accuracy", str(i))
                add("chair", "test", "CHAIRi", str(i), weight=3.0)
    return out


@pytest.fixture(scope="module")
def wide_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of a run as wide as the tiny study: every table at its widest."""
    root = tmp_path_factory.mktemp("wide")
    types = ("conversation", "detail", "complex_reasoning", "knowledge_vqa", "all")
    quality = [QualityRecord(source=src, data_type=dt, metric=m, value=100.0, ci_low=100.0, ci_high=100.0, n=500)
               for src in ("seed", "lang", "vig", "vigc") for dt in types for m in QUALITY_COLUMNS]
    run_dir = make_run(root / "run", samples=_wide_samples(), quality=quality)
    (run_dir / "vic_effect.json").write_text(json.dumps({dt: VIC["all"] for dt in types}))
    out = root / "report.html"
    out.write_text(render_html(load_run(run_dir), "wide"))
    return out


# With every <details> open: the page's width; every table, pre and image wider than its
# container's content box; values split over two lines; header words broken in the middle.
MEASURE = """() => {
    document.querySelectorAll('details').forEach(d => d.open = true);
    const root = document.documentElement;
    const room = e => { const s = getComputedStyle(e);  // the content box: clientWidth less padding
        return e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); };
    const over = [...document.querySelectorAll('table,pre,img')]
        .map(e => [e.tagName, e.scrollWidth, room(e.parentElement), e.textContent.slice(0, 40)])
        .filter(([, w, r]) => w > r + 0.5);
    const split = [...document.querySelectorAll('td .v')].filter(v => v.getClientRects().length > 1)
        .map(v => v.textContent);
    const broken = [];
    for (const th of document.querySelectorAll('th')) {
        const walk = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode())
            for (const m of n.data.matchAll(/[^\\s-]+-?/g)) {
                const r = document.createRange();
                r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
                if (r.getClientRects().length > 1) broken.push(m[0]);
            }
    }
    return {page: [root.scrollWidth, root.clientWidth], tables: document.querySelectorAll('table').length,
            over, split, broken};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_a_wide_report_fits_the_window(browser: Any, wide_page: Path, width: int) -> None:
    """The study-sized report at a laptop width: no sideways scrolling, nothing wider than its box."""
    loaded = Loaded(browser, wide_page, width)
    m = loaded.page.evaluate(MEASURE)
    scroll, client = m["page"]
    assert client == width and scroll <= client, f"sideways scrolling: page {scroll}px in a {client}px window"
    assert m["tables"] >= 10, "the wide run should render every kind of table"
    assert m["over"] == [], f"wider than their container (tag, width, room): {m['over']}"
    assert m["split"] == [], f"values split over two lines: {m['split']}"
    assert m["broken"] == [], f"header words broken mid-word: {m['broken']}"

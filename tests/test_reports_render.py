"""Rendered reports read back: HTML snapshots, PDFs with pypdf, DOCX with python-docx, XLSX with
openpyxl, ICS with icalendar, CSV — and the safety cases (escaping, formula injection, fetcher).

Snapshots live in tests/data/reports/; after an intended template change, regenerate them with
``UPDATE_SNAPSHOTS=1 pytest tests/test_reports_render.py`` and review the diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from icalendar import Calendar
from openpyxl import load_workbook
from pypdf import PdfReader

from reports.board import board_html
from reports.context.board import build_board
from reports.context.data import ReportInputs
from reports.context.playbook import build_playbook
from reports.context.renewals import build_renewals
from reports.playbook import playbook_html
from reports.render import render_reports
from reports.renewals import renewals_html
from reports.templating import template_dirs
from test_reports_fixtures import AS_OF, make_book, make_config

SNAPSHOTS = Path(__file__).parent / "data" / "reports"
NAMES = {"A": "<script>alert(1)</script>", "C": "{{7*7}} Corp", "D": '=HYPERLINK("http://evil")', "E": "@SUM(A1)"}
CREATED = dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.timezone.utc)
ALL = {"board": ["pdf", "docx"], "playbook": ["pdf", "docx"], "renewals": ["csv", "xlsx", "ics", "pdf", "docx"]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("render")
    store = make_book(tmp, NAMES)
    config = make_config(tmp, branding={"company_name": "Acme & Co", "accent_colour": "#0B5394"})
    out = render_reports(store, config, AS_OF, ALL, tmp / "out", quarter="2026-Q2", days=60, created=CREATED)
    data = ReportInputs(store, config, AS_OF)
    dirs = template_dirs(config)
    stub = {k: f"data:image/svg+xml;base64,{k}" for k in ("trend", "waterfall", "health")}
    html = {"board": board_html(build_board(data, "2026-Q2"), dirs, stub),
            "playbook": playbook_html(build_playbook(data), dirs),
            "renewals": renewals_html(build_renewals(data, 60), dirs)}
    yield {"out": out, "html": html, "tmp": tmp}
    store.close()


def _pdf_text(path: Path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def _file(rendered, report: str, suffix: str) -> Path:
    return next(p for p in rendered["out"][report] if p.name.endswith(suffix))


@pytest.mark.parametrize("report", ["board", "playbook", "renewals"])
def test_html_snapshot(rendered, report):
    path, html = SNAPSHOTS / f"{report}.html", rendered["html"][report]
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8"), f"{report}.html changed; see the module docstring"


def test_names_print_literally(rendered):
    html = rendered["html"]["renewals"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "{{7*7}} Corp" in html and "49 Corp" not in html
    assert "Acme &amp; Co" in rendered["html"]["board"] and "#0b5394" in rendered["html"]["board"]


def test_board_pdf_figures_and_pages(rendered):
    pages, text = _pdf_text(_file(rendered, "board", ".pdf"))
    assert pages >= 5
    for needle in ("Quarterly board report", "2026-Q2", "Summary", "ARR waterfall", "Cohort net revenue retention",
                   "Segments against benchmarks", "Customer health", "Renewal outlook", "Diagnosis",
                   "Leading indicators", "Appendix", "Data coverage",
                   "72.2%",        # TTM NRR 520 / 720
                   "65.3%",        # TTM GRR 470 / 720
                   "$11,040",      # end ARR
                   "−$2,400",      # churn B 12 × 200
                   "Page 2 of", "Acme & Co"):
        assert needle in text, needle
    assert "{{7*7}} Corp" in text  # at-risk table: C prints literally


def test_playbook_and_renewals_pdfs(rendered):
    _, text = _pdf_text(_file(rendered, "playbook", ".pdf"))
    for needle in ("Executive escalation", "Nurture", "Win-back", "Owner: Ana", "Owner: Ben", "due 14 Jul 2026"):
        assert needle in text, needle
    _, text = _pdf_text(_file(rendered, "renewals", ".pdf"))
    for needle in ("July 2026", "August 2026", "Negotiation and contract review", "overdue", "$1,008"):
        assert needle in text, needle


def test_board_docx_headings_tables_and_charts(rendered):
    doc = Document(str(_file(rendered, "board", ".docx")))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for h in ("Summary", "Revenue", "Customer health", "Renewals and outlook", "Appendix", "Definitions"):
        assert h in headings, h
    assert len(doc.inline_shapes) == 3  # trend, waterfall, health
    kpis = doc.tables[0]
    assert [c.text for c in kpis.rows[2].cells] == ["Net revenue retention (TTM)", "72.2%", "−27.8 pts vs 2026-Q1"]
    assert doc.core_properties.created == CREATED  # generation time lives in the metadata only


def test_renewals_xlsx_types_formats_and_colours(rendered):
    wb = load_workbook(_file(rendered, "renewals", ".xlsx"))
    assert wb.sheetnames == ["Renewals", "Milestones"]
    ws = wb["Renewals"]
    header = [c.value for c in ws[1]]
    row = {h: c for h, c in zip(header, ws[5])}  # E, the last renewal
    assert row["Renewal date"].value == dt.datetime(2026, 8, 1) and row["Renewal date"].number_format == "yyyy-mm-dd"
    assert row["ARR"].value == 1440.0 and row["ARR"].number_format == '"$"#,##0.00'
    assert row["Expected ARR"].value == 1008.0 and row["Days to renewal"].value == 32
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}5"
    rules = [r for rng in ws.conditional_formatting for r in rng.rules]
    assert {r.formula[0] for r in rules} >= {'"red"', '"amber"', '"green"'}
    ms = wb["Milestones"]
    assert ms.max_row - 1 == sum(1 for _ in csv.reader(_file(rendered, "renewals", "-milestones.csv").open()))  - 1


def test_formula_injection_neutralised(rendered):
    ws = load_workbook(_file(rendered, "renewals", ".xlsx"))["Renewals"]
    names = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(2, ws.max_row + 1)}
    assert names["D"].data_type == "s" and names["D"].value == '=HYPERLINK("http://evil")' and names["D"].quotePrefix
    assert names["E"].data_type == "s" and names["E"].quotePrefix
    rows = list(csv.DictReader(_file(rendered, "renewals", "60d.csv").open(encoding="utf-8-sig")))
    by_id = {r["Account ID"]: r for r in rows}
    assert by_id["D"]["Account"] == "'=HYPERLINK(\"http://evil\")" and by_id["E"]["Account"] == "'@SUM(A1)"
    assert by_id["A"]["Account"] == "<script>alert(1)</script>" and by_id["E"]["ARR"] == "1440.00"


def test_ics_one_event_per_milestone_with_stable_uids(rendered, tmp_path):
    path = _file(rendered, "renewals", ".ics")
    cal = Calendar.from_ical(path.read_bytes())
    events = cal.walk("VEVENT")
    n_milestones = sum(1 for _ in csv.reader(_file(rendered, "renewals", "-milestones.csv").open())) - 1
    assert len(events) == n_milestones and len({str(e["UID"]) for e in events}) == n_milestones
    e60 = next(e for e in events if "@SUM(A1)" in str(e["SUMMARY"]) and "60 d" in str(e["SUMMARY"]))
    assert e60.decoded("DTSTART") == dt.date(2026, 6, 2) and "Action owner: CSM + Legal" in str(e60["DESCRIPTION"])
    # a later export of the same book keeps the UIDs (calendar clients update instead of duplicating)
    from reports.ics import milestone_uid
    assert str(e60["UID"]) == milestone_uid("E", dt.date(2026, 8, 1), 60)


def test_ics_text_survives_escaping_and_folding():
    from types import SimpleNamespace as NS

    from reports.ics import calendar, milestone_event

    # a name with every character TEXT escapes, and multi-byte letters long enough to be folded
    name = 'Ærøskøbing Søfart; "Nord", Vest \\ Øst — ' + "ü" * 60
    m = NS(account_id="ACC-Ø1", name=name, action="Kick-off, review; sign", owner="CSM", days_before=90,
           renewal_date=dt.date(2027, 1, 31), date=dt.date(2026, 11, 2), status="due")
    r = NS(owner="Zoë Ng", arr=Decimal("1234.5"), expected_arr=Decimal("1000"), rag="amber")
    stamp = dt.datetime(2026, 11, 15, tzinfo=dt.timezone.utc)
    raw = calendar(f"{name} renewals", [milestone_event(m, r, "EUR", stamp)]).encode("utf-8")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))   # octets per physical line
    cal = Calendar.from_ical(raw)
    assert str(cal["X-WR-CALNAME"]) == f"{name} renewals"   # a non-standard property: written as is
    (ev,) = cal.walk("VEVENT")
    assert str(ev["SUMMARY"]) == f"{name}: Kick-off, review; sign (90 d before renewal)"
    assert str(ev["DESCRIPTION"]).split("\n")[:3] == [f"Account: {name} (ACC-Ø1)", "Action: Kick-off, review; sign",
                                                       "Action owner: CSM"]
    assert ev.decoded("DTSTART") == dt.date(2026, 11, 2) and ev.decoded("DTEND") == dt.date(2026, 11, 3)
    assert ev.decoded("DTSTAMP") == stamp
    # SEQUENCE: days from the 180-day mark (2026-08-04) to the export date (2026-11-15) = 27 + 30 + 31 + 15 = 103
    assert int(ev["SEQUENCE"]) == 103 and str(ev["CATEGORIES"].cats[0]) == "renewal-amber"


def test_restricted_fetcher_blocks_outside_files(tmp_path):
    from reports.pdf import RestrictedFetcher, write_pdf

    allowed = tmp_path / "tpl"
    allowed.mkdir()
    (allowed / "ok.css").write_text("p { color: red; }")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for reports")
    html = (f'<html><head><link rel="stylesheet" href="{(allowed / "ok.css").as_uri()}"></head><body>'
            f'<img src="{secret.as_uri()}"><img src="http://127.0.0.1:9/x.png"><p>hi</p></body></html>')
    fetcher = write_pdf(html, allowed / "ok.css", [allowed], tmp_path / "x.pdf")
    assert secret.as_uri() in fetcher.blocked and "http://127.0.0.1:9/x.png" in fetcher.blocked
    assert not any("ok.css" in u for u in fetcher.blocked)
    assert RestrictedFetcher([allowed]).allowed("data:text/plain;base64,aGk=")


def test_template_override_and_branding_logo(tmp_path):
    store = make_book(tmp_path)
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "renewals.html").write_text(
        '{% extends "base.html" %}{% block body %}<h1>Custom timeline for {{ brand.company }}</h1>{% endblock %}')
    config = make_config(tmp_path, templates_dir="tpl", branding={"company_name": "Override Ltd"})
    out = render_reports(store, config, AS_OF, {"renewals": ["pdf"]}, tmp_path / "out", days=60)
    _, text = _pdf_text(out["renewals"][0])
    assert "Custom timeline for Override Ltd" in text
    store.close()


def test_empty_cases_read_well(tmp_path):
    store = make_book(tmp_path, scored=False)
    config = make_config(tmp_path)
    # 2 Jun + 1 day: E renews 1 Aug, A/C 1 Jul and D 15 Jul (evergreen, monthly): nothing renews 2–3 Jun
    out = render_reports(store, config, dt.date(2026, 6, 2), {"renewals": ["pdf", "csv"], "playbook": ["pdf"]},
                         tmp_path / "out", days=1)
    _, text = _pdf_text(out["renewals"][0])
    assert "No renewals fall between 2 Jun 2026 and 3 Jun 2026" in text
    _, text = _pdf_text(out["playbook"][0])
    assert "No health scores are stored yet" in text and "Win-back" in text
    assert len(list(csv.reader(out["renewals"][1].open()))) == 1  # header only
    store.close()


def test_same_inputs_same_content(rendered, tmp_path):
    store = make_book(tmp_path, NAMES)
    config = make_config(tmp_path, branding={"company_name": "Acme & Co", "accent_colour": "#0B5394"})
    later = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    out = render_reports(store, config, AS_OF, {"renewals": ["csv", "ics"]}, tmp_path / "out", days=60, created=later)
    for new in out["renewals"]:
        old = next(p for p in rendered["out"]["renewals"] if p.name == new.name)
        assert new.read_bytes() == old.read_bytes(), new.name
    store.close()


def test_branding_logo_in_pdf_and_docx(tmp_path):
    from PIL import Image

    from reports.errors import ReportConfigError

    (tmp_path / "branding").mkdir()
    Image.new("RGB", (40, 20), "#0b5394").save(tmp_path / "branding" / "logo.png")
    store = make_book(tmp_path)
    config = make_config(tmp_path, branding={"logo": "branding/logo.png"})
    out = render_reports(store, config, AS_OF, {"renewals": ["pdf", "docx"]}, tmp_path / "out", days=60)
    assert len(PdfReader(str(out["renewals"][0])).pages[0].images) == 1  # the logo on the cover, read from branding/
    assert len(Document(str(out["renewals"][1])).inline_shapes) == 1
    missing = make_config(tmp_path, branding={"logo": "branding/nope.png"})
    with pytest.raises(ReportConfigError, match="reports.branding.logo: branding/nope.png not found"):
        render_reports(store, missing, AS_OF, {"renewals": ["pdf"]}, tmp_path / "out", days=60)
    store.close()


def test_a_timeline_handed_over_is_used_and_cut_to_the_horizon(tmp_path):
    from engine.renewals import RenewalTimeline

    store = make_book(tmp_path, NAMES)
    config = make_config(tmp_path)
    computed = ReportInputs(store, config, AS_OF).timeline(90)
    own = render_reports(store, config, AS_OF, {"renewals": ["csv"]}, tmp_path / "own", days=60)["renewals"][0]
    given = render_reports(store, config, AS_OF, {"renewals": ["csv"]}, tmp_path / "given", days=60,
                           timeline=computed)["renewals"][0]
    # the 90-day timeline cut to 60 days gives the same export as computing 60 days
    assert given.read_bytes() == own.read_bytes()
    # and it is the timeline handed over that is used: drop one renewal from it, the export loses that row
    first = computed.renewals.iloc[0]
    fewer = RenewalTimeline(computed.as_of, computed.days, computed.renewals.iloc[1:].reset_index(drop=True),
                            computed.milestones, computed.outlook)
    out = render_reports(store, config, AS_OF, {"renewals": ["csv"]}, tmp_path / "fewer", days=60,
                         timeline=fewer)["renewals"][0]
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == len(list(csv.DictReader(own.open(encoding="utf-8-sig")))) - 1
    assert first["account_id"] not in {r["Account ID"] for r in rows} or \
        sum(r["Account ID"] == first["account_id"] for r in rows) < \
        sum(r["Account ID"] == first["account_id"] for r in csv.DictReader(own.open(encoding="utf-8-sig")))
    with pytest.raises(ValueError, match="as of"):
        render_reports(store, config, AS_OF - dt.timedelta(days=1), {"renewals": ["csv"]}, tmp_path / "x", days=60,
                       timeline=computed)
    store.close()


def test_docx_list_tables_give_the_text_columns_the_room(rendered):
    from docx.shared import Mm

    def grid(doc, first_header):
        table = next(t for t in doc.tables if t.rows[0].cells[0].text == first_header)
        return [round(c.width / Mm(1)) for c in table.columns]

    # widths in mm of a 178 mm text width (210 mm A4 less two 16 mm margins)
    playbook = Document(str(_file(rendered, "playbook", ".docx")))
    assert grid(playbook, "Account") == [32, 26, 20, 13, 12, 22, 53]
    renewals = Document(str(_file(rendered, "renewals", ".docx")))
    assert grid(renewals, "Milestone") == [22, 26, 70, 36, 24]

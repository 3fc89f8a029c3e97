"""The SLA report: one JSON document, and an HTML page that works offline.

The HTML is one self-contained file: charts are inline SVG written here (no plotting library, no
script, no font or image fetched), and a Content-Security-Policy forbids every network load, so it
opens the same on a NOC workstation without internet as in a ticket attachment.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import Any
from zoneinfo import ZoneInfo

from egov.measure import sla
from egov.measure.faults import Network
from egov.measure.store import Fault, Window
from egov.plan.schema import Profile

REPORT_VERSION = 1


def build(*, profile: Profile, net: Network, period: sla.Period, faults: list[Fault], windows: list[Window],
          util: sla.UtilSource, now: float, source: str = "store") -> dict[str, Any]:
    """Every figure of the report from the local fault record and rollups."""
    until = min(period.end, max(now, period.start))
    out = sla.outages(net, faults, windows, period.start, until, now)
    avail = sla.availability(net, out)
    handling = sla.fault_handling(faults, windows, period.start, period.end, now)
    bandwidth = sla.bandwidth_support(net, util, period.start, until, profile.sla.bandwidth_threshold)
    notes = []
    if out.unknown_targets:
        notes.append(f"{len(out.unknown_targets)} fault target(s) not in the plan count in the fault rate only: "
                     + ", ".join(out.unknown_targets[:10]))
    if handling["pending"]:
        notes.append(f"{handling['pending']} fault(s) still open within their target are not judged yet")
    return assemble(profile=profile, period=period, now=now, until=until, source=source, availability=avail,
                    handling=handling, bandwidth=bandwidth, notes=notes, unknown_targets=out.unknown_targets)


def assemble(*, profile: Profile, period: sla.Period, now: float, until: float, source: str,
             availability: dict[str, Any], handling: dict[str, Any], bandwidth: dict[str, Any],
             notes: list[str], unknown_targets: list[str] | None = None,
             queries: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON document (shared by the local store and the Prometheus source)."""
    cloud = availability.get("cloud")
    measured = {"platform_uptime": cloud["availability"] if cloud else None,
                "fault_handling_3h": handling.get("rate"),
                "bandwidth_support": bandwidth.get("rate")}
    # no fault judged: nothing was late (passes); no data at all (a silent Prometheus) is not judged
    vacuous = {"fault_handling_3h": handling.get("rate") is None and not handling.get("no_data")}
    targets, overall = sla.judge(profile.targets, period.year, measured, vacuous)
    iso = period.iso
    rows = [{**r, "start": iso(r["start"]), "cleared": iso(r["cleared"]) if r.get("cleared") is not None else None}
            for r in handling.get("faults", [])]
    return {
        "report": REPORT_VERSION,
        "profile": profile.name,
        "source": source,
        "generated": iso(now),
        "period": {"label": period.label, "start": iso(period.start), "end": iso(period.end),
                   "measured_until": iso(until), "seconds": period.seconds,
                   "measured_seconds": max(0.0, until - period.start), "tz": period.tz, "year": period.year},
        "availability": availability,
        "fault_handling_rate": handling.get("rate"),
        "fault_handling": {**{k: v for k, v in handling.items() if k != "faults"}, "faults": rows,
                           "target_s": profile.sla.fault_target_hours * 3600},
        "bandwidth_support_rate": bandwidth.get("rate"),
        "bandwidth": bandwidth,
        "targets": targets,
        "pass": overall,
        "unknown_targets": unknown_targets or [],
        "notes": notes,
        **({"queries": queries} if queries else {}),
    }


# --- HTML ------------------------------------------------------------------------------------------
CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:6px 0 14px}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.none{color:#6e7781}
.badge{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:700}
.badge.pass{background:#1a7f37;color:#fff}.badge.fail{background:#cf222e;color:#fff}.badge.none{background:#6e7781;color:#fff}
.meta{color:#57606a}svg{display:block;margin:8px 0}
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _pct(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v * 100:.{digits}f} %"


def _n(v: Any) -> str:
    return "-" if v is None else _e(v)


def _verdict(ok: bool | None) -> str:
    cls, word = ("pass", "PASS") if ok is True else ("fail", "FAIL") if ok is False else ("none", "n/a")
    return f'<span class="{cls}">{word}</span>'


def _hours(s: float) -> str:
    return f"{s / 3600:.2f} h"


def availability_chart(items: list[tuple[str, float]], target: float | None, title: str) -> str:
    """Horizontal bars of availability with the target as a dashed line."""
    if not items:
        return f'<p class="none">{_e(title)}: nothing to plot</p>'
    values = [v for _, v in items] + ([target] if target is not None else [])
    lo = max(0.0, math.floor(min(values) * 100 - 1) / 100)
    hi = 1.0
    left, width, bar, gap = 170, 560, 18, 6
    height = 40 + len(items) * (bar + gap) + 30
    x = lambda v: left + (v - lo) / (hi - lo) * width
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
             f'role="img" aria-label="{_e(title)}">'),
             f'<text x="0" y="16" font-size="14" font-weight="600">{_e(title)}</text>']
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        parts.append(f'<line x1="{x(v):.1f}" y1="28" x2="{x(v):.1f}" y2="{height - 26}" stroke="#eaeef2"/>'
                     f'<text x="{x(v):.1f}" y="{height - 10}" font-size="11" text-anchor="middle">'
                     f'{v * 100:.1f}%</text>')
    for i, (label, v) in enumerate(items):
        y = 32 + i * (bar + gap)
        ok = target is None or v + 1e-9 >= target
        colour = "#2da44e" if ok else "#cf222e"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{_e(label)}</text>'
                     f'<rect x="{left}" y="{y}" width="{max(1.0, x(v) - left):.1f}" height="{bar}" fill="{colour}">'
                     f'<title>{_e(label)}: {v * 100:.4f}%</title></rect>'
                     f'<text x="{left + width + 6}" y="{y + 13}" font-size="12">{v * 100:.3f}%</text>')
    if target is not None:
        parts.append(f'<line x1="{x(target):.1f}" y1="26" x2="{x(target):.1f}" y2="{height - 24}" stroke="#0550ae" '
                     f'stroke-width="2" stroke-dasharray="6 4"/><text x="{x(target) + 4:.1f}" y="26" font-size="11" '
                     f'fill="#0550ae">target {target * 100:g}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def duration_chart(rows: list[dict[str, Any]], target_s: float, start: float, end: float, tz: str) -> str:
    """Each judged fault as a dot: when it started (x) and how long it took (y), with the target line."""
    title = "Fault durations against the target"
    if not rows:
        return f'<p class="none">{title}: no unplanned fault started in the period</p>'
    left, width, top, height = 60, 680, 30, 260
    ymax = max(max(r["duration_s"] for r in rows), target_s) * 1.15 / 3600
    x = lambda t: left + (t - start) / max(end - start, 1) * width
    y = lambda h: top + height - h / ymax * height
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{top + height + 40}" '
             f'role="img" aria-label="{title}"><text x="0" y="16" font-size="14" font-weight="600">{title}</text>'),
             f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="#fbfcfd" stroke="#d0d7de"/>']
    for k in range(6):
        h = ymax * k / 5
        parts.append(f'<text x="{left - 6}" y="{y(h) + 4:.1f}" font-size="11" text-anchor="end">{h:.1f} h</text>')
    z = ZoneInfo(tz)
    for k in range(5):
        t = start + (end - start) * k / 4
        parts.append(f'<text x="{x(t):.1f}" y="{top + height + 16}" font-size="11" text-anchor="middle">'
                     f'{dt.datetime.fromtimestamp(t, z):%Y-%m-%d}</text>')
    colour = {"met": "#2da44e", "missed": "#cf222e", "pending": "#bf8700"}
    for r in rows:
        t = dt.datetime.fromisoformat(r["start"]).timestamp()
        parts.append(f'<circle cx="{x(t):.1f}" cy="{y(r["duration_s"] / 3600):.1f}" r="4" '
                     f'fill="{colour.get(r["outcome"], "#57606a")}"><title>{_e(r["kind"])} {_e(r["target"])}: '
                     f'{_hours(r["duration_s"])} ({_e(r["outcome"])})</title></circle>')
    ty = y(target_s / 3600)
    parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + width}" y2="{ty:.1f}" stroke="#cf222e" '
                 f'stroke-width="2" stroke-dasharray="6 4"/><text x="{left + width - 4}" y="{ty - 4:.1f}" '
                 f'font-size="11" text-anchor="end" fill="#cf222e">target {target_s / 3600:g} h</text></svg>')
    return "".join(parts)


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: dict[str, Any]) -> str:
    """The report as one offline HTML page."""
    s = [*_html_head(report), *_indicators_section(report), *_availability_section(report),
         *_fault_handling_section(report), *_bandwidth_section(report), *_queries_section(report),
         "</body></html>\n"]
    return "\n".join(s)


def _html_head(report: dict[str, Any]) -> list[str]:
    """Head (with the CSP that forbids every network load), title with the overall verdict, period line."""
    tg = report["targets"]
    per = report["period"]
    overall = report["pass"]
    badge = ("pass", "PASS") if overall is True else ("fail", "FAIL") if overall is False else ("none", "NOT JUDGED")
    return [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"),
        f"<title>SLA report {_e(report['profile'])} {_e(per['label'])}</title><style>{CSS}</style></head><body>",
        (f"<h1>SLA report: {_e(report['profile'])}, {_e(per['label'])} "
        f'<span class="badge {badge[0]}">{badge[1]}</span></h1>'),
        (f'<p class="meta">{_e(per["start"])} to {_e(per["end"])} (measured until {_e(per["measured_until"])}); '
        f'targets of {tg["year"]}; source: {_e(report["source"])}; generated {_e(report["generated"])}</p>'),
    ]


def _indicators_section(report: dict[str, Any]) -> list[str]:
    """The plan's indicators against their targets, then the report's notes: the page's verdict first."""
    tg = report["targets"]
    rows = []
    for ind in sla.INDICATORS:
        t = tg[ind]
        rows.append([_e(ind), _e(t["measured_by"]), _pct(t["measured"]),
                     "-" if t["target"] is None else f"{_pct(t['target'], 1)} ({t['target_year']})", _verdict(t["pass"])])
    s = ["<h2>Plan indicators</h2>",
         _table(["indicator", "measured by", "measured", "target (year)", "result"], rows, {2, 3})]
    for n in report.get("notes", []):
        s.append(f'<p class="meta">{_e(n)}</p>')
    return s


def _availability_section(report: dict[str, Any]) -> list[str]:
    """The availability chart against the uptime target, then services, tiers, cities, and the routers
    and links that had outages (worst first; the ones without stay counted, not listed)."""
    av = report["availability"]
    items: list[tuple[str, float | None]] = []
    if av.get("cloud"):
        items.append(("cloud platform", av["cloud"]["availability"]))
    items += [(f"service {k}", v["availability"]) for k, v in av["services"].items()]
    if av.get("network"):
        items.append(("network", av["network"]["availability"]))
    items += [(f"tier {k}", v["availability"]) for k, v in av["tiers"].items()]
    items += [(f"city {k}", v["availability"]) for k, v in av["cities"].items()]
    plotted = [(k, v) for k, v in items if v is not None]
    s = ["<h2>Availability</h2>",
         availability_chart(plotted, report["targets"]["platform_uptime"]["target"],
                            "Availability (services, tiers, cities) against the platform uptime target")]
    s.append(_table(["what", "availability", "outage", "outages"], [
        [_e(k), _pct(v["availability"]), _hours(v.get("outage_s") or 0), _n(v.get("outages"))]
        for k, v in ([("cloud platform", av["cloud"])] if av.get("cloud") else [])
        + [(f"service {k}", v) for k, v in av["services"].items()]], {1, 2, 3}))
    s.append(_table(["tier", "availability", "routers"], [[_e(k), _pct(v["availability"]), str(v["routers"])]
                                                          for k, v in av["tiers"].items()], {1, 2}))
    s.append(_table(["city", "availability", "routers"], [[_e(k), _pct(v["availability"]), str(v["routers"])]
                                                          for k, v in av["cities"].items()], {1, 2}))
    out_routers = [(k, v) for k, v in av["routers"].items() if v.get("outage_s")]
    s.append(f"<p>{len(av['routers'])} routers; {len(out_routers)} with outages in the period.</p>")
    if out_routers:
        s.append(_table(["router", "tier", "city", "availability", "outage", "outages"],
                        [[_e(k), _e(v["tier"]), _e(v["city"]), _pct(v["availability"]), _hours(v["outage_s"]),
                          _n(v["outages"])] for k, v in sorted(out_routers, key=lambda kv: kv[1]["availability"] or 0)],
                        {3, 4, 5}))
    out_links = [(k, v) for k, v in av["links"].items() if v.get("outage_s")]
    s.append(f"<p>{len(av['links'])} links; {len(out_links)} with outages in the period.</p>")
    if out_links:
        s.append(_table(["link", "availability", "outage", "outages"],
                        [[_e(k), _pct(v["availability"]), _hours(v["outage_s"]), _n(v["outages"])]
                         for k, v in sorted(out_links, key=lambda kv: kv[1]["availability"] or 0)], {1, 2, 3}))
    return s


def _fault_handling_section(report: dict[str, Any]) -> list[str]:
    """The fault handling rate, the duration chart (not from Prometheus: it has no per-fault durations)
    and one row per fault."""
    fh = report["fault_handling"]
    per = report["period"]
    s = ["<h2>Fault handling</h2>",
         f"<p>Rate {_pct(report['fault_handling_rate'], 2)}: {_n(fh.get('met'))} cleared within "
         f"{_hours(fh['target_s'])}, {_n(fh.get('missed'))} missed, {_n(fh.get('pending'))} still open within "
         f"target; {_n(fh.get('planned'))} planned and {_n(fh.get('management'))} management faults not "
         "counted.</p>"]
    start = dt.datetime.fromisoformat(per["start"]).timestamp()
    end = dt.datetime.fromisoformat(per["end"]).timestamp()
    if report["source"].startswith("prometheus"):
        s.append('<p class="none">Per-fault durations are not in Prometheus (its histogram holds counts per '
                 'bucket); run the report on the exporter\'s fault record for the chart.</p>')
    else:
        s.append(duration_chart(fh.get("faults", []), fh["target_s"], start, end, per["tz"]))
    if fh.get("faults"):
        s.append(_table(["id", "kind", "target", "start", "cleared", "duration", "outcome"],
                        [[str(r["id"]), _e(r["kind"]), _e(r["target"]), _e(r["start"]), _e(r["cleared"] or "open"),
                          _hours(r["duration_s"]), (f'<span class="{"pass" if r["outcome"] == "met" else "fail"}">'
                          f'{_e(r["outcome"])}</span>')] for r in fh["faults"]], {0, 5}))
    return s


def _bandwidth_section(report: dict[str, Any]) -> list[str]:
    """The bandwidth support rate and, per site, its worst uplink's 95th percentile."""
    bw = report["bandwidth"]
    s = ["<h2>Bandwidth support</h2>",
         f"<p>Rate {_pct(report['bandwidth_support_rate'], 2)}: of {bw.get('sites', 0)} sites, "
         f"{bw.get('pass', 0)} pass, {bw.get('fail', 0)} fail, {bw.get('no_data', 0)} have no data "
         f"(threshold: 95th percentile under {_pct(bw.get('threshold'), 0)} of the uplink's speed).</p>"]
    if bw.get("by_site"):
        s.append(_table(["site", "tier", "city", "worst uplink p95", "result", "uplinks"],
                        [[_e(k), _e(v["tier"]), _e(v["city"]), _pct(v["worst_p95"], 1),
                          _verdict({"pass": True, "fail": False}.get(v["status"])),
                          _e(", ".join(f"{u['interface']} {_pct(u['p95'], 1)}" for u in v["uplinks"]))]
                         for k, v in bw["by_site"].items()], {3}))
    return s


def _queries_section(report: dict[str, Any]) -> list[str]:
    """The PromQL behind each figure when they came from Prometheus, so a reader can check them."""
    if not report.get("queries"):
        return []
    return ["<h2>Prometheus queries</h2>",
            _table(["figure", "query"], [[_e(k), f"<code>{_e(v)}</code>"] for k, v in report["queries"].items()])]

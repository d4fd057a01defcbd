"""The page around a release report: inline CSS, the colours, small HTML helpers. No external assets, no JS."""

from __future__ import annotations

from html import escape

# Colours: outcome (pass/fail) and the versions in the cut-over chart (a fleet's colour when known).
PASS, PASS_BG, FAIL, FAIL_BG = "#15803d", "#dcfce7", "#b91c1c", "#fee2e2"
INK, MUTED, LINE, PANEL = "#0f172a", "#64748b", "#e2e8f0", "#f8fafc"
STEP_BAR, STEP_FAILED = "#6366f1", "#dc2626"
FLEET = {"blue": "#3b82f6", "green": "#10b981"}
VERSION_COLOURS = ("#3b82f6", "#10b981", "#f59e0b", "#a855f7", "#0ea5e9", "#ec4899")
FAILED_COLOUR = "#ef4444"

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#eef2f7;color:%(ink)s;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
  "Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:30px;line-height:1.15;margin:6px 0 6px;letter-spacing:-.01em}
h2{font-size:17px;margin:0 0 14px;letter-spacing:.01em}
h2 small{font-weight:400;color:%(muted)s;font-size:13px;margin-left:8px}
.hero{background:#fff;border-radius:14px;padding:22px 26px;border-top:8px solid %(muted)s;
  box-shadow:0 1px 2px rgba(15,23,42,.06),0 4px 16px rgba(15,23,42,.05)}
.hero.succeeded{border-top-color:%(pass)s}.hero.failed{border-top-color:%(fail)s}
.badge{display:inline-block;font-weight:700;font-size:13px;letter-spacing:.08em;padding:4px 12px;
  border-radius:999px;background:#e2e8f0;color:#334155}
.badge.succeeded{background:%(pass_bg)s;color:%(pass)s}.badge.failed{background:%(fail_bg)s;color:%(fail)s}
.meta{display:flex;flex-wrap:wrap;gap:6px 22px;color:%(muted)s;font-size:14px;margin-top:4px}
.meta b{color:%(ink)s;font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:16px 0 0}
.kpi{background:%(panel)s;border:1px solid %(line)s;border-radius:10px;padding:10px 14px}
.kpi .v{font-size:24px;font-weight:700;line-height:1.2}
.kpi .k{font-size:12px;color:%(muted)s;text-transform:uppercase;letter-spacing:.06em}
.kpi.good .v{color:%(pass)s}.kpi.bad .v{color:%(fail)s}
.card{background:#fff;border-radius:14px;padding:20px 24px;margin-top:18px;
  box-shadow:0 1px 2px rgba(15,23,42,.06)}
.failure{background:%(fail_bg)s;border:1px solid #fca5a5;border-left:8px solid %(fail)s;border-radius:12px;
  padding:16px 20px;margin-top:18px}
.failure h2{color:%(fail)s;font-size:19px;margin-bottom:6px}
.failure .msg{font-size:16px;font-weight:600;margin:0 0 8px}
.failure ul{margin:6px 0 0;padding-left:20px;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,
  "DejaVu Sans Mono",monospace;color:#7f1d1d}
.muted{color:%(muted)s}
svg{display:block;width:100%%;height:auto;font-family:inherit}
table.smoke{border-collapse:separate;border-spacing:0;width:100%%;font-size:14px;table-layout:fixed}
table.smoke th:first-child{width:26%%}
table.smoke th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:%(muted)s;
  font-weight:600;padding:6px 10px;border-bottom:2px solid %(line)s}
table.smoke td{padding:8px 10px;border-bottom:1px solid %(line)s;vertical-align:top}
table.smoke td.t b{display:block}table.smoke td.t span{color:%(muted)s;font-size:12px}
td.pass{background:%(pass_bg)s;color:%(pass)s;font-weight:600}
td.fail{background:%(fail_bg)s;color:%(fail)s;font-weight:600}
td.none{color:#cbd5e1}
td .why{display:block;font-weight:400;font-size:12px;color:#7f1d1d}
td .ms{font-weight:400;color:%(muted)s;font-size:12px;margin-left:6px}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;margin:2px 0 8px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:12px}
.chip{font-size:12px;border:1px solid %(line)s;border-radius:999px;padding:2px 10px;background:%(panel)s}
.chip i{display:inline-block;width:8px;height:8px;border-radius:50%%;margin-right:6px}
details{border-top:1px solid %(line)s;padding:8px 0}
details summary{cursor:pointer;font-size:14px}
details pre{background:%(panel)s;border:1px solid %(line)s;border-radius:8px;padding:10px;overflow:auto;
  font-size:12px;max-height:360px}
footer{color:%(muted)s;font-size:12px;margin-top:22px;text-align:center}
""" % {"ink": INK, "muted": MUTED, "line": LINE, "panel": PANEL, "pass": PASS, "pass_bg": PASS_BG,
       "fail": FAIL, "fail_bg": FAIL_BG}


def e(value: object) -> str:
    """HTML-escaped text ('' for None)."""
    return "" if value is None else escape(str(value), quote=True)


def page(*, title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n")


def seconds(value: float | None) -> str:
    """41.7s, 2m 05s, 1h 02m; '-' for None."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s" if value < 1 else f"{value:.1f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def when(iso_time: str | None) -> str:
    """2025-01-01T12:00:00.000+00:00 -> 2025-01-01 12:00:00 UTC."""
    if not iso_time:
        return "-"
    text = iso_time.replace("T", " ")
    for suffix in ("+00:00", "Z"):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + " UTC"
    date, _, rest = text.partition(" ")
    clock, _, zone = rest.partition(" ")
    return f"{date} {clock.split('.')[0]} {zone}".strip()

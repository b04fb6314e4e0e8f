"""report.md and a self-contained report.html from one list of sections.

A :class:`Section` holds prose, tables and at most one figure (or the reason it was
omitted); both writers render the same sections, so the two files never disagree.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figure: Path | None = None
    figure_alt: str = ""
    omitted: str | None = None       # why the figure is absent
    tables: list[Table] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_md(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        if s.bullets:
            lines += [f"- {b}" for b in s.bullets] + [""]
        if s.omitted:
            lines += [f"*Figure omitted: {s.omitted}*", ""]
        if s.figure is not None:
            lines += [f"![{s.figure_alt or s.title}]({Path(s.figure).name})", ""]
        for t in s.tables:
            lines += [f"**{t.caption}**", "",
                      "| " + " | ".join(_md_cell(h) for h in t.header) + " |",
                      "|" + "|".join("---" for _ in t.header) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.omitted { color: #8a5a00; font-style: italic; }
caption { font-weight: bold; text-align: left; padding-bottom: 0.3em; }
"""


def render_html(title: str, sections: list[Section]) -> str:
    """One HTML file with every figure embedded as a base64 PNG (no external files)."""
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for s in sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        out += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        if s.bullets:
            out.append("<ul>" + "".join(f"<li>{e(b)}</li>" for b in s.bullets) + "</ul>")
        if s.omitted:
            out.append(f"<p class='omitted'>Figure omitted: {e(s.omitted)}</p>")
        if s.figure is not None:
            data = base64.b64encode(Path(s.figure).read_bytes()).decode("ascii")
            out.append(f"<img alt='{e(s.figure_alt or s.title)}' "
                       f"src='data:image/png;base64,{data}'>")
        for t in s.tables:
            out.append(f"<table><caption>{e(t.caption)}</caption><tr>"
                       + "".join(f"<th>{e(h)}</th>" for h in t.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                    for row in t.rows]
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"

"""report.md and a self-contained report.html from one list of sections.

A :class:`Section` holds prose, bullets, figures (or the reason they were omitted)
and tables; both writers render the same sections, so the two files never disagree.
The HTML file has a table of contents linking every section, inlines each figure's
SVG (sharp at any size, exact values on hover; a 2× PNG where there is no SVG), lays
figures out in a responsive grid, wraps every table in a box that scrolls sideways
on its own (so the page never does, down to phone widths), and folds long tables
into ``<details>``.
"""

from __future__ import annotations

import base64
import html
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    collapsed: bool = False      # in a <details> block, closed
    note: str = ""               # a line under the table (legend of its marks)


@dataclass
class Figure:
    png: Path
    alt: str = ""
    svg: Path | None = None      # inlined into the HTML when present

    @property
    def files(self) -> list[Path]:
        return [Path(p) for p in dict.fromkeys((self.png, self.svg))
                if p is not None and Path(p).exists()]


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figure: Path | None = None         # one PNG (kept for callers with a single figure)
    figure_alt: str = ""
    omitted: str | None = None         # why the figures are absent
    tables: list[Table] = field(default_factory=list)
    #: each a sentence, or ``(head, [sentences])``: a heading with its own list
    bullets: list = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    box: bool = False                  # the answer box at the top of the page
    after: list[str] = field(default_factory=list)    # paragraphs after the bullets
    links: list[tuple[str, str]] = field(default_factory=list)   # (text, href)
    anchor: str = ""

    def all_figures(self) -> list[Figure]:
        figs = list(self.figures)
        if self.figure is not None:
            svg = Path(self.figure).with_suffix(".svg")
            figs.insert(0, Figure(Path(self.figure), self.figure_alt or self.title,
                                  svg if svg.exists() else None))
        return figs


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "section"


def assign_anchors(sections: list[Section]) -> None:
    """Give every section a unique anchor (from its title)."""
    used: set[str] = set()
    for s in sections:
        base = s.anchor or slug(s.title)
        a, k = base, 2
        while a in used:
            a, k = f"{base}-{k}", k + 1
        used.add(a)
        s.anchor = a


# --- Markdown ------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in t.header) + " |",
             "|" + "|".join("---" for _ in t.header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    if t.note:
        lines += ["", t.note]
    if t.collapsed:
        return [f"<details><summary>{html.escape(t.caption)}</summary>", "", *lines, "",
                "</details>", ""]
    return [f"**{t.caption}**", "", *lines, ""]


def render_md(title: str, sections: list[Section], toc: bool = True) -> str:
    assign_anchors(sections)
    lines = [f"# {title}", ""]
    boxes = [s for s in sections if s.box]
    rest = [s for s in sections if not s.box]
    for s in boxes + ([None] if toc and len(rest) > 1 else []) + rest:
        if s is None:
            lines += ["**Contents:** " + " · ".join(f"[{x.title}](#{x.anchor})"
                                                   for x in sections), ""]
            continue
        lines += [f'<a id="{s.anchor}"></a>', "", f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        if s.bullets:
            for b in s.bullets:
                if isinstance(b, tuple):
                    lines.append(f"- **{b[0]}**")
                    lines += [f"  - {x}" for x in b[1]]
                else:
                    lines.append(f"- {b}")
            lines.append("")
        for p in s.after:
            lines += [p, ""]
        if s.omitted:
            lines += [f"*Figure omitted: {s.omitted}*", ""]
        for f in s.all_figures():
            shown = f.svg if f.svg is not None and Path(f.svg).exists() else f.png
            files = " · ".join(f"[{Path(p).suffix[1:].upper()}]({Path(p).name})"
                               for p in f.files)
            lines += [f"![{f.alt}]({Path(shown).name})", "", f"*{f.alt}* ({files})", ""]
        for t in s.tables:
            lines += _md_table(t)
        if s.links:
            lines += [" · ".join(f"[{text}]({href})" for text, href in s.links), ""]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML ----------------------------------------------------------------------------------


_CSS = """
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d1d1d; line-height: 1.45; background: #fff; }
main { max-width: 1400px; margin: 0 auto; padding: 0.5em 1em 3em; }
h1 { font-size: 1.55em; margin: 0.6em 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ddd;
     padding-bottom: 0.15em; scroll-margin-top: 0.5em; }
h1, h2, p, li, summary, figcaption, caption { overflow-wrap: anywhere; }
.answer { border: 2px solid #0072B2; border-radius: 8px; background: #f3f8fc;
          padding: 0.2em 1.1em 0.6em; }
.answer h2 { border: none; margin-top: 0.6em; }
.answer li { margin: 0.25em 0; }
.answer ul ul { margin: 0.1em 0 0.4em; padding-left: 1.3em; }
.answer .facts { color: #333; font-size: 0.95em; margin: 0.35em 0; }
nav.toc { margin: 1em 0; font-size: 0.95em; }
nav.toc ol { columns: 17em; column-gap: 2em; margin: 0.3em 0; padding-left: 1.6em; }
.figs { display: grid; gap: 1em 1.5em; margin: 0.8em 0 1em;
        grid-template-columns: repeat(auto-fill, minmax(min(100%, 520px), 1fr)); }
figure { margin: 0; min-width: 0; }
figure svg, figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; margin-top: 0.2em; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.4em 0 1.2em; }
table { border-collapse: collapse; font-size: 0.86em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right;
         white-space: nowrap; vertical-align: top; }
th { background: #f1f1f1; }
td:first-child, th:first-child { text-align: left; }
caption { font-weight: 600; text-align: left; padding-bottom: 0.3em; white-space: normal; }
details { margin: 0.4em 0 0.8em; }
summary { cursor: pointer; font-weight: 600; }
.note { font-size: 0.85em; color: #555; margin: -0.8em 0 1.2em; }
.omitted { color: #8a5a00; font-style: italic; }
.files a { margin-right: 0.6em; }
"""


def _svg_inline(path: Path, prefix: str, label: str) -> str:
    """An SVG file's markup for inlining: no XML prolog, sized by CSS, ids prefixed so
    that several figures in one page do not clash."""
    text = Path(path).read_text(encoding="utf-8")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    if ids:
        text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
        text = re.sub(r'url\(#([^)]+)\)',
                      lambda m: f"url(#{prefix}{m.group(1)})" if m.group(1) in ids
                      else m.group(0), text)
        text = re.sub(r'href="#([^"]+)"',
                      lambda m: f'href="#{prefix}{m.group(1)}"' if m.group(1) in ids
                      else m.group(0), text)

    def root(m):
        attrs = re.sub(r'\s(?:width|height)="[^"]*"', "", m.group(1))
        return (f"<svg{attrs} role=\"img\" aria-label=\"{html.escape(label, quote=True)}\" "
                "preserveAspectRatio=\"xMidYMid meet\">")

    return re.sub(r"<svg\b([^>]*)>", root, text, count=1).strip()


def _png_size(path: Path) -> tuple[int, int] | None:
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def _figure_html(f: Figure, k: int, e) -> str:
    if f.svg is not None and Path(f.svg).exists():
        body = _svg_inline(Path(f.svg), f"f{k}-", f.alt)
    else:
        data = base64.b64encode(Path(f.png).read_bytes()).decode("ascii")
        size = _png_size(Path(f.png))
        dims = f" width='{size[0] // 2}' height='{size[1] // 2}'" if size else ""
        body = f"<img alt='{e(f.alt)}'{dims} src='data:image/png;base64,{data}'>"
    links = " · ".join(f"<a href='{e(Path(p).name)}'>{Path(p).suffix[1:].upper()}</a>"
                       for p in f.files)
    return (f"<figure>{body}<figcaption>{e(f.alt)}"
            + (f" ({links})" if links else "") + "</figcaption></figure>")


def _table_html(t: Table, e) -> str:
    head = "<thead><tr>" + "".join(f"<th scope='col'>{e(h)}</th>" for h in t.header) \
        + "</tr></thead>"
    body = "<tbody>" + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row)
                               + "</tr>" for row in t.rows) + "</tbody>"
    note = f"<p class='note'>{e(t.note)}</p>" if t.note else ""
    if t.collapsed:
        return (f"<details><summary>{e(t.caption)} ({len(t.rows)} rows)</summary>"
                f"<div class='scroll'><table>{head}{body}</table></div>{note}</details>")
    return (f"<div class='scroll'><table><caption>{e(t.caption)}</caption>{head}{body}"
            f"</table></div>{note}")


def _bullet_html(b, e) -> str:
    if isinstance(b, tuple):
        head, items = b
        return (f"<li><strong>{e(head)}</strong><ul>"
                + "".join(f"<li>{e(x)}</li>" for x in items) + "</ul></li>")
    return f"<li>{e(b)}</li>"


def render_html(title: str, sections: list[Section], toc: bool = True) -> str:
    """One HTML file: the answer box first, a table of contents, then every section;
    figures inline (no external files needed), links to every file on disk."""
    e = html.escape
    assign_anchors(sections)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>",
           f"<h1>{e(title)}</h1>"]
    k = 0
    boxes = [s for s in sections if s.box]
    rest = [s for s in sections if not s.box]
    order = boxes + ([None] if toc else []) + rest
    for s in order:
        if s is None:
            out.append("<nav class='toc' aria-label='Contents'><strong>Contents</strong><ol>"
                       + "".join(f"<li><a href='#{x.anchor}'>{e(x.title)}</a></li>"
                                 for x in sections) + "</ol></nav>")
            continue
        out.append("<section class='answer'>" if s.box else "<section>")
        out.append(f"<h2 id='{s.anchor}'>{e(s.title)}</h2>")
        out += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        if s.bullets:
            out.append("<ul>" + "".join(_bullet_html(b, e) for b in s.bullets) + "</ul>")
        out += [f"<p class='facts'>{e(p)}</p>" for p in s.after]
        if s.omitted:
            out.append(f"<p class='omitted'>Figure omitted: {e(s.omitted)}</p>")
        figs = s.all_figures()
        if figs:
            out.append("<div class='figs'>")
            for f in figs:
                out.append(_figure_html(f, k, e))
                k += 1
            out.append("</div>")
        out += [_table_html(t, e) for t in s.tables]
        if s.links:
            out.append("<p class='files'>" + " ".join(
                f"<a href='{e(href)}'>{e(text)}</a>" for text, href in s.links) + "</p>")
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def relative_href(target: str | os.PathLike, folder: str | os.PathLike) -> str:
    """A link from a file in ``folder`` to ``target`` (relative where possible)."""
    target = Path(target).resolve()
    try:
        rel = os.path.relpath(target, Path(folder).resolve())
    except ValueError:        # another drive
        return target.as_uri()
    return Path(rel).as_posix()

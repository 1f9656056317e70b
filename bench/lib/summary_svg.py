"""build/bench/summary.svg: the bench's table as a picture, ours against each peer, per workload.

Reads the Markdown report bench/run writes (build/bench/last-table.md: a title line, "- (a) ..." workload lines, the
`figure | ours | peer | ratio | target | met` table) and draws, per row, the ratio ours/peer on a logarithmic axis
around 1x: a bar from 1x to the ratio, coloured by whether the target was met, with the target's ratio marked.
Python's standard library only.

  python3 bench/lib/summary_svg.py build/bench/last-table.md build/bench/summary.svg
"""
import math
import os
import re
import sys
from xml.sax.saxutils import escape

COLOURS = {"yes": "#2e7d32", "NO": "#c62828"}
NEUTRAL = "#90a4ae"  # no verdict, or a floor row (what the machine allows, not a target of ours)
GROUP_TITLES = {"plugin": "plugin: jobs without --kafka-stream"}
WIDTH, ROW, LABEL_W, AXIS_W = 1080, 24, 290, 360


def parse_table(text):
    """(title, {group key: title}, [row dicts]) from a last-table.md report."""
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip() if lines else ""
    groups = {}
    for line in lines:
        if line.startswith("|"):
            break  # the workloads are listed above the table; notes below it may start with "(a) " too
        m = re.match(r"- \(([a-z])\) (.*)", line)
        if m:
            groups[m.group(1)] = f"({m.group(1)}) {m.group(2)}"
    rows, header = [], None
    for line in lines:
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        row = dict(zip(header, cells))
        m = re.match(r"([0-9.]+)x$", row.get("ratio", ""))
        row["ratio_value"] = float(m.group(1)) if m else None
        t = re.match(r"([<>]=) ([0-9.]+)x", row.get("target", ""))
        row["target_ratio"] = float(t.group(2)) if t else None
        g = re.match(r"\(([a-z])\) (.*)", row["figure"])
        row["group"], row["label"] = (g.group(1), g.group(2)) if g else ("plugin", row["figure"])
        peer = re.match(r".*\((.*)\)$", row.get("peer", ""))
        row["peer_name"] = peer.group(1) if peer else row.get("peer", "")
        rows.append(row)
    return title, groups, rows


def render_svg(title, groups, rows):
    drawn = [r for r in rows if r["ratio_value"] and r["ratio_value"] > 0]
    values = [r["ratio_value"] for r in drawn] + [r["target_ratio"] for r in drawn if r["target_ratio"]]
    lo = 2 ** math.floor(math.log2(min(values + [0.5])))
    hi = 2 ** math.ceil(math.log2(max(values + [2.0])))
    x0 = LABEL_W + 10

    def x(ratio):
        return x0 + AXIS_W * (math.log2(ratio) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))

    order = [k for k in sorted({r["group"] for r in drawn}) if k != "plugin"] + \
            (["plugin"] if any(r["group"] == "plugin" for r in drawn) else [])
    body, y = [], 92
    for key in order:
        body.append(f'<text x="12" y="{y + 16}" class="group">{escape(groups.get(key, GROUP_TITLES.get(key, key)))}</text>')
        y += ROW + 4
        for r in (r for r in drawn if r["group"] == key):
            floor = r["label"].startswith("floor") or "possible?" in r.get("target", "")
            colour = NEUTRAL if floor else COLOURS.get(r.get("met"), NEUTRAL)
            width = max(abs(x(r["ratio_value"]) - x(1.0)), 1.5)  # a ratio of about 1 still shows its side
            a = x(1.0) - width if r["ratio_value"] < 1 else x(1.0)
            mid = y + ROW / 2
            body.append(f'<text x="24" y="{mid + 4}" class="label{" floor" if floor else ""}">'
                        f'{escape(r["label"][:52])}</text>')
            body.append(f'<rect x="{a:.2f}" y="{y + 5}" width="{width:.2f}" height="{ROW - 10}" '
                        f'fill="{colour}" rx="2"><title>{escape(r["figure"])}: {escape(r["ours"])} against '
                        f'{escape(r["peer"])}</title></rect>')
            if r["target_ratio"]:
                tx = x(r["target_ratio"])
                body.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y + 2}" y2="{y + ROW - 2}" class="target"/>')
            met = r.get("met", "")
            if floor:  # "met" of a floor says whether the target is possible on this machine
                verdict = "\u2713 possible" if met == "yes" else "\u2717 not possible" if met.lower().startswith("no") else ""
            else:
                verdict = {"yes": "\u2713 met", "NO": "\u2717 missed"}.get(met, "")
            target = r.get("target", "")
            target = target if target.startswith("(") else f"(target {target})"
            body.append(f'<text x="{x0 + AXIS_W + 12}" y="{mid + 4}" class="value">'
                        f'<tspan class="ratio">{r["ratio_value"]:.2f}x</tspan> vs {escape(r["peer_name"][:34])}'
                        f' <tspan class="note">{escape(target)} {verdict}</tspan></text>')
            y += ROW
        y += 8
    ticks = []
    t = lo
    while t <= hi * 1.0001:
        tx = x(t)
        label = f"{t:g}x" if t >= 1 else f"1/{1 / t:g}x"
        ticks.append(f'<line x1="{tx:.2f}" x2="{tx:.2f}" y1="84" y2="{y}" class="{"one" if t == 1 else "grid"}"/>')
        ticks.append(f'<text x="{tx:.1f}" y="78" class="tick">{label}</text>')
        t *= 2
    height = y + 40
    legend_y = y + 22
    legend = (f'<rect x="12" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS["yes"]}"/>'
              f'<text x="30" y="{legend_y}" class="note">target met</text>'
              f'<rect x="120" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS["NO"]}"/>'
              f'<text x="138" y="{legend_y}" class="note">target missed</text>'
              f'<rect x="240" y="{legend_y - 10}" width="12" height="12" fill="{NEUTRAL}"/>'
              f'<text x="258" y="{legend_y}" class="note">floor or no target (what the machine allows)</text>'
              f'<line x1="560" x2="560" y1="{legend_y - 11}" y2="{legend_y + 2}" class="target"/>'
              f'<text x="568" y="{legend_y}" class="note">target ratio</text>')
    style = """
  text { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; font-size: 12px; fill: #263238; }
  .title { font-size: 17px; font-weight: bold; }
  .subtitle, .note { font-size: 11px; fill: #607d8b; }
  .group { font-size: 13px; font-weight: bold; fill: #37474f; }
  .floor { fill: #78909c; font-style: italic; }
  .ratio { font-weight: bold; }
  .tick { font-size: 10px; fill: #78909c; text-anchor: middle; }
  .grid { stroke: #eceff1; stroke-width: 1; }
  .one { stroke: #546e7a; stroke-width: 1.2; }
  .target { stroke: #212121; stroke-width: 2; }
"""
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">',
        f"<style>{style}</style>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        '<text x="12" y="26" class="title">slurm-kafka-stream against its peers: ratio ours / peer (log scale)</text>',
        f'<text x="12" y="46" class="subtitle">{escape(title[:160])}</text>',
        '<text x="12" y="62" class="subtitle">Throughput: right of 1x is faster than the peer. Times and memory '
        '("&lt;=" targets): left of 1x is better. Hover a bar for the figures.</text>',
        *ticks, *body, legend, "</svg>", ""])


def write(table_path, svg_path):
    with open(table_path) as f:
        svg = render_svg(*parse_table(f.read()))
    with open(svg_path + ".tmp", "w") as f:
        f.write(svg)
    os.replace(svg_path + ".tmp", svg_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    write(sys.argv[1], sys.argv[2])

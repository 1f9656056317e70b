#!/bin/bash
# The bench's picture (bench/lib/summary_svg.py) drawn from saved tables (bench/testdata/: a real quick run of (a), and
# a made-up table with every workload, the plugin's rows and a row without a ratio): a
# well-formed SVG with one bar per row that has a ratio, grouped per workload in order, coloured by its verdict
# (floors grey), on the right side of 1x for ratios above 1 and the left side below; rows without a ratio are left
# out; a table without any drawable row still gives a valid picture.
. "$(dirname "$0")/../lib/common.sh"
"$PY" - "$KS_ROOT/bench/lib/summary_svg.py" "$KS_ROOT/bench/testdata" "$T" <<'PYEOF'
import importlib.util, os, sys, xml.etree.ElementTree as ET
spec = importlib.util.spec_from_file_location("summary_svg", sys.argv[1])
svg_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(svg_mod)
NS = "{http://www.w3.org/2000/svg}"

def check(table, n_rows, n_drawn, groups):
    out = os.path.join(sys.argv[3], os.path.basename(table) + ".svg")
    svg_mod.write(table, out)
    assert not os.path.exists(out + ".tmp")
    root = ET.parse(out).getroot()
    assert root.tag == NS + "svg", root.tag
    texts = ["".join(t.itertext()) for t in root.iter(NS + "text")]
    bars = [r for r in root.iter(NS + "rect") if r.find(NS + "title") is not None]
    title, _, rows = svg_mod.parse_table(open(table).read())
    drawable = [r for r in rows if r["ratio_value"]]
    assert (len(rows), len(drawable)) == (n_rows, n_drawn), (table, len(rows), len(drawable))
    assert len(bars) == len(drawable), (len(bars), len(drawable))
    headers = [t for t in texts if t[:1] == "(" and t[2:4] == ") " or t.startswith("plugin:")]
    assert [h[:3] for h in headers] == groups, headers
    assert any(title[:40] in t for t in texts), "no subtitle from the table's title line"
    one = [l for l in root.iter(NS + "line") if l.get("class") == "one"]
    assert len(one) == 1
    x1 = float(one[0].get("x1"))
    for bar, row in zip(bars, drawable):
        assert row["figure"] in bar.find(NS + "title").text, (row["figure"], bar.find(NS + "title").text)
        left, width = float(bar.get("x")), float(bar.get("width"))
        if row["ratio_value"] > 1:
            assert abs(left - x1) < 0.05 and width >= 1.5, row
        elif row["ratio_value"] < 1:
            assert abs(left + width - x1) < 0.05, row
        floor = row["label"].startswith("floor") or "possible?" in row["target"]
        expected = svg_mod.NEUTRAL if floor else svg_mod.COLOURS.get(row["met"], svg_mod.NEUTRAL)
        assert bar.get("fill") == expected, (row["figure"], bar.get("fill"))
    return texts

texts = check(os.path.join(sys.argv[2], "last-table.md"), 16, 15, ["(a)", "(b)", "(c)", "(d)", "plu"])
assert "(a) one 2 GiB file: 1 files, 2,048.0 MiB" in texts
assert any("45.71x" in t for t in texts)
assert not any("push --format records" in t for t in texts), "a row without a ratio was drawn"
# A note under the table that starts like a workload line ("- (a) TLS: ...") does not rename the workload's group.
noted = os.path.join(sys.argv[3], "last-table-noted.md")
with open(noted, "w") as f:
    f.write(open(os.path.join(sys.argv[2], "last-table.md")).read() + "\n- (a) TLS: a note under the table\n")
texts = check(noted, 16, 15, ["(a)", "(b)", "(c)", "(d)", "plu"])
assert "(a) one 2 GiB file: 1 files, 2,048.0 MiB" in texts and not any("a note under" in t for t in texts), texts[:5]
texts = check(os.path.join(sys.argv[2], "last-table-quick-a.md"), 21, 21, ["(a)"])
assert any("8.51x" in t and "missed" in t for t in texts)
assert any("not possible" in t for t in texts), "a floor that is not possible is said so"
# Nothing drawable: still a valid picture.
ET.fromstring(svg_mod.render_svg("t", {}, []))
print("PASS")
PYEOF

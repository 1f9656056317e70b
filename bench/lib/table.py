"""The result table: one row per figure, ours against a peer or a limit, the ratio and the target."""
from dataclasses import dataclass
import math


@dataclass
class Row:
    figure: str
    ours: float
    peer: float
    unit: str
    peer_name: str
    target: str          # human-readable, e.g. ">= 0.9x"
    ratio_min: float = None  # target met if ours/peer >= ratio_min
    ratio_max: float = None  # target met if ours/peer <= ratio_max
    absolute_min: float = None  # target met if ours >= absolute_min (peer shown for information)
    absolute_max: float = None
    verdict: str = None  # overrides the computed verdict (e.g. "no measurable overhead")
    paired: float = None  # the median of per-run ratios, when ours and the peer ran in the same rounds

    @property
    def ratio(self):
        if self.paired is not None:
            return self.paired
        if not self.peer or math.isnan(self.peer) or math.isnan(self.ours):
            return float("nan")
        return self.ours / self.peer

    def met(self):
        if self.verdict is not None:
            return self.verdict
        checks = []
        if self.ratio_min is not None:
            checks.append(self.ratio >= self.ratio_min)
        if self.ratio_max is not None:
            checks.append(self.ratio <= self.ratio_max)
        if self.absolute_min is not None:
            checks.append(self.ours >= self.absolute_min)
        if self.absolute_max is not None:
            checks.append(self.ours <= self.absolute_max)
        if any(math.isnan(v) for v in (self.ours,)) or not checks:
            return "-"
        return "yes" if all(checks) else "NO"


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def render(rows):
    header = ["figure", "ours", "peer", "ratio", "target", "met"]
    lines = []
    for r in rows:
        lines.append([r.figure, f"{_num(r.ours)} {r.unit}", f"{_num(r.peer)} {r.unit} ({r.peer_name})",
                      "n/a" if math.isnan(r.ratio) else f"{r.ratio:.2f}x", r.target, r.met()])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(l) for l in lines]
    return "\n".join(out)

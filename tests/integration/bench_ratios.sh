#!/bin/bash
# The bench's ratios between our variants (bench/lib/measure.py balanced_ratio): a first-place penalty in a block
# that rotates each run (in_turns) cancels out (to within 1%) whatever the number of runs, where a plain median of
# per-run ratios favours the variant that held the first place less often; one wild run does not decide; failed runs
# and too few runs are handled.
. "$(dirname "$0")/../lib/common.sh"
"$PY" - "$KS_ROOT/bench/lib/measure.py" <<'PYEOF'
import importlib.util, math, sys
spec = importlib.util.spec_from_file_location("measure", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)

def runs(n, block, penalty=0.9, a_speed=1.0, b_speed=1.0):
    """Two variants A and B of the same speed in a block of `block` rotating by one each run; the first place runs at
    `penalty` of its speed. Returns A's and B's per-run figures (higher is better)."""
    a, b = [], []
    for r in range(n):
        order = ["A", "B", "X"][:block]
        k = r % block
        order = order[k:] + order[:k]
        a.append(a_speed * (penalty if order[0] == "A" else 1))
        b.append(b_speed * (penalty if order[0] == "B" else 1))
    return a, b

for n in (3, 5, 9):  # odd: A first more often than B
    a, b = runs(n, 2)
    assert m.paired_ratio(a, b) < 0.95, m.paired_ratio(a, b)  # the bias the balanced ratio removes
    assert math.isclose(m.balanced_ratio(a, b, 2), 1.0, rel_tol=0.01), (n, m.balanced_ratio(a, b, 2))
for n in (3, 4, 7, 9):
    a, b = runs(n, 3)
    assert math.isclose(m.balanced_ratio(a, b, 3), 1.0, rel_tol=0.01), (n, m.balanced_ratio(a, b, 3))
# A real difference survives: A 5% slower.
a, b = runs(9, 2, a_speed=0.95)
assert math.isclose(m.balanced_ratio(a, b, 2), 0.95, rel_tol=0.01), m.balanced_ratio(a, b, 2)
# One wild run (A 1.5x slower once) does not decide.
a, b = runs(9, 3)
a[0] /= 1.5
assert math.isclose(m.balanced_ratio(a, b, 3), 1.0, rel_tol=0.01), m.balanced_ratio(a, b, 3)
# A failed run (None) is left out; with fewer runs than the block, the paired ratio.
a, b = runs(6, 2)
a[2] = None
assert math.isclose(m.balanced_ratio(a, b, 2), 1.0, rel_tol=0.01), m.balanced_ratio(a, b, 2)
assert m.balanced_ratio([2.0], [1.0], 2) == 2.0
assert math.isnan(m.balanced_ratio([None, None], [1.0, 1.0], 2))
print("ok")
PYEOF

"""Reference values for crates/vqtex-engine/src/eval/codes.rs (`vqtex codes`): Fisher's exact test,
the odds ratio's 95% interval and Benjamini-Hochberg adjusted p-values.

Documentation only, never run by CI. Reproduce the numbers pinned in the Rust tests with:

    python3 -m venv /tmp/pyref3
    /tmp/pyref3/bin/pip install numpy scipy
    /tmp/pyref3/bin/python scripts/reference/codes.py

Pinned with numpy 2.4.6 and scipy 1.17.1 (Python 3.11). Each table is
[[steatotic ROIs using the code, steatotic ROIs not using it],
 [healthy ROIs using it,       healthy ROIs not using it]].
"""

import numpy as np
import scipy
import scipy.stats
from scipy.stats.contingency import odds_ratio

TABLES = [
    [[8, 2], [1, 5]],
    [[0, 5], [7, 3]],
    [[3, 0], [0, 4]],
    [[0, 10], [0, 12]],  # code used by no ROI: p = 1
    [[10, 0], [12, 0]],  # code used by every ROI: p = 1
    [[2, 3], [3, 2]],  # symmetric: exact ties in the null distribution
    [[12, 3], [4, 10]],
    [[95, 5], [60, 40]],
    [[530, 470], [480, 520]],
    [[1, 299], [40, 260]],
]

Z = scipy.stats.norm.ppf(0.975)


def woolf(t):
    """Odds ratio and Woolf (log) 95% interval, adding 0.5 to every cell when one is 0."""
    a, b, c, d = (float(v) for v in np.ravel(t))
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    lor = np.log(a * d / (b * c))
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return np.exp(lor), np.exp(lor - Z * se), np.exp(lor + Z * se)


print(f"numpy {np.__version__}, scipy {scipy.__version__}")
print(f"z = {float(Z)!r}")
for t in TABLES:
    p = float(scipy.stats.fisher_exact(t).pvalue)
    or_, lo, hi = map(float, woolf(t))
    line = f"{t}: p = {p!r}, or = {or_!r}, ci = [{lo!r}, {hi!r}]"
    if 0 not in np.ravel(t):
        # Without zero cells, Woolf's interval is scipy's sample odds ratio interval.
        ci = odds_ratio(t, kind="sample").confidence_interval(0.95)
        assert np.isclose(ci.low, lo, rtol=1e-12) and np.isclose(ci.high, hi, rtol=1e-12)
        line += " (= scipy odds_ratio sample)"
    print(line)

PS = [0.01, 0.04, 0.03, 0.2, 0.04, 0.9, 1.0, 0.0005, 0.5, 0.012]
print(f"p = {PS}")
print(f"bh = {list(map(float, scipy.stats.false_discovery_control(PS, method='bh')))!r}")

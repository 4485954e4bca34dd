"""Reference numbers for crates/vqtex-engine/src/eval/regress.rs (documentation; never run by CI).

Prints scipy's Spearman correlation and the mean absolute error of a fixed set of 16 (truth,
prediction) pairs with ties in both (scipy gives tied values their average rank), so the Rust tests
can pin them.

    python3 -m venv /tmp/pyref5 && /tmp/pyref5/bin/pip install numpy scipy
    /tmp/pyref5/bin/python scripts/reference/regress.py
"""

import numpy as np
import scipy
from scipy.stats import rankdata, spearmanr

# Percent fat (truth) and a model's predictions; ties in both.
TRUTH = np.array(
    [2.0, 2.0, 4.5, 10.0, 10.0, 10.0, 18.5, 25.0, 25.0, 31.0, 40.0, 47.5, 3.0, 60.0, 12.0, 31.0]
)
PREDICTED = np.array(
    [5.0, 1.5, 5.0, 9.0, 14.0, 5.0, 20.0, 22.5, 30.0, 22.5, 35.0, 52.0, 9.0, 41.0, 14.0, 28.0]
)

print("scipy", scipy.__version__, "numpy", np.__version__)
print("ranks(truth)", rankdata(TRUTH).tolist())
print("ranks(predicted)", rankdata(PREDICTED).tolist())
print("spearman %.17g" % spearmanr(TRUTH, PREDICTED).statistic)
print("mae %.17g" % np.mean(np.abs(TRUTH - PREDICTED)))
# The first 6 pairs only: a small set with ties in both columns.
print("spearman[:6] %.17g" % spearmanr(TRUTH[:6], PREDICTED[:6]).statistic)

"""Reference numbers for crates/vqtex-engine/src/eval/binary.rs (documentation; never run by CI).

Prints sklearn's scores of a fixed set of 20 decision values with ties (including exact zeros,
which count as predicted steatosis) so the Rust tests can pin them. Steatosis (1) is the positive
class; the prediction is `decision >= 0`.

    python3 -m venv /tmp/pyref2 && /tmp/pyref2/bin/pip install numpy scikit-learn
    /tmp/pyref2/bin/python scripts/reference/binary_scores.py
"""

import numpy as np
import sklearn
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
)

# 0 = healthy, 1 = steatosis.
TRUTH = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1])
DECISION = np.array(
    [
        -1.5, -0.25, 0.75, 0.0, -0.25, 2.0, 0.5, -0.25, 0.75, 0.0,
        -1.5, 1.25, -0.75, 0.5, -0.75, 0.75, 0.0, -2.0, 0.5, 1.25,
    ]
)

pred = (DECISION >= 0).astype(int)
fpr, tpr, thr = roc_curve(TRUTH, DECISION, drop_intermediate=False)

print("sklearn", sklearn.__version__, "numpy", np.__version__)
print("confusion_matrix", confusion_matrix(TRUTH, pred).tolist())
print("roc_auc_score", repr(roc_auc_score(TRUTH, DECISION)))
print("balanced_accuracy_score", repr(balanced_accuracy_score(TRUTH, pred)))
print("f1_score", repr(f1_score(TRUTH, pred)))
print("roc_curve fpr", [repr(float(v)) for v in fpr])
print("roc_curve tpr", [repr(float(v)) for v in tpr])
print("roc_curve thresholds", [repr(float(v)) for v in thr])

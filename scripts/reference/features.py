"""Reference values for crates/vqtex-engine/src/features (first-order and GLCM radiomics).

Documentation only, never run by CI. Reproduce the numbers pinned in the Rust tests with:

    python3 -m venv /tmp/pyref
    /tmp/pyref/bin/pip install numpy scipy scikit-image
    /tmp/pyref/bin/python scripts/reference/features.py

Pinned with numpy 2.4.6, scipy 1.17.1, scikit-image 0.26.0 (Python 3.11).
The images are the same formulas as in the Rust tests (crates/vqtex-engine/src/features/mod.rs, `tests`).
"""

import numpy as np
import scipy
import scipy.stats
import skimage
from skimage.feature import graycomatrix, graycoprops

DISTANCES = [1, 2, 4]
ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
PROPS = ["contrast", "dissimilarity", "homogeneity", "energy", "correlation"]


def image(side, f):
    return np.array([[f(r, c) for c in range(side)] for r in range(side)], dtype=np.uint8)


IMAGES = {
    # 28x28 pseudo-texture
    "texture": image(28, lambda r, c: (r * 37 + c * 11 + (r * c) % 23) % 256),
    # 28x28 constant
    "constant": image(28, lambda r, c: 77),
    # 28x28 smooth gradient
    "gradient": image(28, lambda r, c: r * 7 + c * 2),
    # 5x5 small image (distance 4 leaves few pairs)
    "small5": image(5, lambda r, c: (r * 53 + c * 29 + r * c * 7) % 256),
    # 3x3 image: no pairs at distance 4 in any direction
    "tiny3": image(3, lambda r, c: (r * 90 + c * 40) % 256),
}


def firstorder(img):
    v = img.ravel()
    x = v / 255.0
    return [
        np.mean(x),
        np.std(x),
        scipy.stats.skew(x),  # bias=True; nan for a constant image
        scipy.stats.kurtosis(x),  # fisher=True, bias=True; nan for a constant image
        scipy.stats.entropy(np.bincount(v, minlength=256), base=2),
    ]


def glcm(img):
    P = graycomatrix(img // 8, distances=DISTANCES, angles=ANGLES, levels=32,
                     symmetric=True, normed=True)
    out = []
    for prop in PROPS:
        out.extend(graycoprops(P, prop).mean(axis=1))  # mean over angles, one per distance
    return out


if __name__ == "__main__":
    print(f"# numpy {np.__version__}, scipy {scipy.__version__}, scikit-image {skimage.__version__}")
    for name, img in IMAGES.items():
        print(f"{name} firstorder: [{', '.join(repr(float(v)) for v in firstorder(img))}]")
        print(f"{name} glcm: [{', '.join(repr(float(v)) for v in glcm(img))}]")

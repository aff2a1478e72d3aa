"""Plain SciPy / NumPy reference of the face-region features (tests only; the package never imports
this). Filters from scipy.ndimage ("mirror" = OpenCV's reflect-101 border), chroma from the JFIF
conversion matrix, regions and radial bins by explicit boolean masks."""

import numpy as np
from scipy import ndimage

EPS = 1e-3
SIGMAS = (0.7, 1.4, 2.8, 5.6)
KV = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], float) / 4


def _gauss(y, sigma):
    radius = int(round(8 * sigma + 1)) // 2  # OpenCV's kernel size for float images: round(8 sigma + 1) | 1
    return ndimage.gaussian_filter(y, sigma, mode="mirror", radius=radius)


def ellipse_rho_ref(shape, center, axes, angle=0.0):
    h, w = shape
    out = np.empty((h, w))
    c, s = np.cos(angle), np.sin(angle)
    for i in range(h):
        for j in range(w):
            dx, dy = j - center[0], i - center[1]
            out[i, j] = np.hypot((c * dx + s * dy) / axes[0], (-s * dx + c * dy) / axes[1])
    return out


def faceregion_ref(rgb, luma, rho, band=0.15, n_bins=8, lo=0.4, hi=1.6):
    y = np.asarray(luma, dtype=np.float64)
    regions = [rho < 1 - band, rho >= 1 + band, (rho >= 1 - band) & (rho < 1), (rho >= 1) & (rho < 1 + band)]
    res = ndimage.correlate(y, KV, mode="mirror")
    smooth = _gauss(y, 1.0)
    grad = ndimage.sobel(smooth, axis=1, mode="mirror") ** 2 + ndimage.sobel(smooth, axis=0, mode="mirror") ** 2
    blurs = [y] + [_gauss(y, s) for s in SIGMAS]
    bands = [(blurs[k] - blurs[k + 1]) ** 2 for k in range(4)]
    x = -np.log(SIGMAS)

    def noise(m):
        return np.log(EPS + np.median(np.abs(res[m])) / (0.6745 * 1.5)) if m.any() else np.nan

    def sharp(m):
        return np.log(EPS + grad[m].mean()) if m.any() else np.nan

    def slope(m):
        return np.polyfit(x, np.log(EPS + np.array([b[m].mean() for b in bands])), 1)[0] if m.any() else np.nan

    out = []
    for fn in (noise, sharp, slope):
        v = [fn(m) for m in regions]
        out += [v[0], v[1], v[0] - v[1], v[2] - v[3]]
    r, g, b = (np.asarray(rgb, dtype=np.float64)[:, :, k] for k in range(3))
    ycc = [y, -0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b]  # JFIF, no offset
    inner, outer, rin, rout = regions
    for c in range(3):
        ch = ycc[c]
        out += [ch[rin].mean() - ch[rout].mean(), ch[inner].mean() - ch[outer].mean()]
    for c in range(3):
        ch = ycc[c]
        out.append(ch[rin].std() - ch[rout].std())
    ring = rin | rout
    for e in (res ** 2, grad):
        out.append(np.log(EPS + e[ring].mean()) - (np.log(EPS + e[inner].mean()) + np.log(EPS + e[outer].mean())) / 2)
    edges = lo + (hi - lo) * np.arange(n_bins + 1) / n_bins
    for e in (res ** 2, grad):
        prof = np.array([np.log(EPS + e[(rho >= edges[k]) & (rho < edges[k + 1])].mean()) for k in range(n_bins)])
        out += list(prof - prof.mean())
    return np.array(out)

"""Sharpness kernels: one pass over the rows for the Laplacian, Tenengrad and Brenner sums per grid
cell and the edge-width walk of Marziliano et al. (2002), and the Haar detail energies."""

import numpy as np

from ._config import array, f32, f64, i64, kernel


@kernel(signature=(array(f32, 2), i64, array(i64, 1, True), f64, array(f64, 2), array(f64, 1)))
def sharpness_edges(img, grid, bounds, threshold, out, widths):
    """Per-cell focus sums and the edge widths of a (H, W) image, H, W >= 3, in one pass over its rows.

    Parameters
    ----------
    img : float32 (H, W), C-contiguous
    grid : int
    bounds : int64 (grid + 1,)
        Column bounds of the cells (``j * grid // W == c``) clipped to the interior ``1 .. W - 1``.
    threshold : float
        Minimum intensity step of an edge, in grey levels.
    out : float64 (grid * grid, 5), zeroed
        Row ``r * grid + c`` receives, over the interior pixels (1 <= i < H-1, 1 <= j < W-1) of
        cell (r, c) (pixel (i, j) belongs to cell (i * grid // H, j * grid // W)),
        [count, sum(L), sum(L^2), sum(Gx^2 + Gy^2), sum(Dx^2 + Dy^2)] where L is the 4-neighbour
        Laplacian, Gx/Gy the 3x3 Sobel responses and Dx/Dy the central differences
        I[i, j+1] - I[i, j-1] and I[i+1, j] - I[i-1, j].
    widths : float64 (>= (H - 2) (W - 2),)
        Receives the edge widths in row-major order of the edge pixels.

    Returns
    -------
    int : the number of edges.

    Notes
    -----
    Edges along rows (Marziliano et al. 2002): an edge pixel is an interior pixel whose horizontal
    Sobel response |Gx| is a strict local maximum along its row (greater than the left neighbour's,
    not less than the right one's; 0 beyond the interior) and at least ``4 * threshold`` (a step of
    ``threshold`` grey levels). Its width is the distance between the nearest local extrema of the
    intensity profile on both sides: for a rising edge the walk goes left while intensity strictly
    decreases and right while it strictly increases (mirrored for a falling edge).

    Every stencil value is exact in float64 (integer weights on float32 values), so the row-wise,
    vectorised evaluation gives the same values as a pixel-by-pixel one.
    """
    h, w = img.shape
    n = w - 2
    lap = np.empty(n)  # output t is column t + 1
    ten = np.empty(n)
    bren = np.empty(n)
    gxr = np.empty(n)
    t4 = 4.0 * threshold
    n_edges = 0
    for i in range(1, h - 1):
        up = img[i - 1]
        mid = img[i]
        dn = img[i + 1]
        for t in range(n):
            a = np.float64(up[t])
            b = np.float64(up[t + 1])
            c = np.float64(up[t + 2])
            d = np.float64(mid[t])
            e = np.float64(mid[t + 1])
            f = np.float64(mid[t + 2])
            g = np.float64(dn[t])
            hh = np.float64(dn[t + 1])
            k = np.float64(dn[t + 2])
            lap[t] = b + d + f + hh - 4.0 * e
            gx = (c + 2.0 * f + k) - (a + 2.0 * d + g)
            gy = (g + 2.0 * hh + k) - (a + 2.0 * b + c)
            gxr[t] = gx
            ten[t] = gx * gx + gy * gy
            bren[t] = (f - d) * (f - d) + (hh - b) * (hh - b)
        ci = ((i * grid) // h) * grid
        for cj in range(grid):
            j0 = bounds[cj] - 1
            j1 = bounds[cj + 1] - 1
            if j1 <= j0:
                continue
            seg_lap = lap[j0:j1]  # slices from 0: no negative-index test, the loop vectorises
            seg_ten = ten[j0:j1]
            seg_bren = bren[j0:j1]
            s_lap = 0.0
            s_lap2 = 0.0
            s_ten = 0.0
            s_bren = 0.0
            for t in range(j1 - j0):
                v = seg_lap[t]
                s_lap += v
                s_lap2 += v * v
                s_ten += seg_ten[t]
                s_bren += seg_bren[t]
            o = out[ci + cj]
            o[0] += j1 - j0
            o[1] += s_lap
            o[2] += s_lap2
            o[3] += s_ten
            o[4] += s_bren
        for t in range(n):
            mag = abs(gxr[t])
            if mag < t4:
                continue
            gl = abs(gxr[t - 1]) if t > 0 else 0.0
            gr = abs(gxr[t + 1]) if t < n - 1 else 0.0
            if not (mag > gl and mag >= gr):
                continue
            s = 1.0 if gxr[t] > 0 else -1.0
            left = t + 1
            while left > 0 and s * (np.float64(mid[left - 1]) - mid[left]) < 0.0:
                left -= 1
            right = t + 1
            while right < w - 1 and s * (np.float64(mid[right + 1]) - mid[right]) > 0.0:
                right += 1
            widths[n_edges] = right - left
            n_edges += 1
    return n_edges


@kernel(signature=(array(f32, 2), i64, array(f64, 1)))
def haar_detail_energies(img, levels, out):
    """Energy of the Haar detail sub-bands, level 1 (finest) to ``levels``, into ``out[:levels]``.

    The image is cropped to its top-left ``(H - H % 2^L, W - W % 2^L)`` region so every level
    tiles exactly. For each 2x2 block (a b / c d) of the current approximation, the orthonormal
    Haar transform gives cA = (a+b+c+d)/2, cH = (a+b-c-d)/2, cV = (a-b+c-d)/2, cD = (a-b-c+d)/2;
    ``out[k-1]`` = sum of cH^2 + cV^2 + cD^2 at level k. Matches ``pywt.wavedec2(.., "haar")``
    on the cropped image.
    """
    step = 1 << levels
    h = (img.shape[0] // step) * step
    w = (img.shape[1] // step) * step
    approx = np.empty((h // 2, w // 2))
    for lev in range(levels):
        hh = h >> (lev + 1)
        ww = w >> (lev + 1)
        e = 0.0
        for i in range(hh):
            for j in range(ww):
                if lev == 0:
                    a = np.float64(img[2 * i, 2 * j])
                    b = np.float64(img[2 * i, 2 * j + 1])
                    c = np.float64(img[2 * i + 1, 2 * j])
                    d = np.float64(img[2 * i + 1, 2 * j + 1])
                else:
                    a = approx[2 * i, 2 * j]
                    b = approx[2 * i, 2 * j + 1]
                    c = approx[2 * i + 1, 2 * j]
                    d = approx[2 * i + 1, 2 * j + 1]
                ch = 0.5 * (a + b - c - d)
                cv = 0.5 * (a - b + c - d)
                cd = 0.5 * (a - b - c + d)
                e += ch * ch + cv * cv + cd * cd
                approx[i, j] = 0.5 * (a + b + c + d)  # in place: (i, j) is read before it is overwritten
        out[lev] = e

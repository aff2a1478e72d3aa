"""Sharpness kernels: one fused pass for Laplacian, Tenengrad and Brenner sums per grid cell,
and the edge-width walk of Marziliano et al. (2002)."""

import numpy as np

from ._config import kernel


@kernel
def sharpness_cells(img, grid, out):
    """Per-cell sums over interior pixels (1 <= i < H-1, 1 <= j < W-1) of a (H, W) image.

    ``out`` has shape (grid * grid, 5), zeroed; row ``r * grid + c`` receives
    [count, sum(L), sum(L^2), sum(Gx^2 + Gy^2), sum(Dx^2 + Dy^2)] where
    L is the 4-neighbour Laplacian, Gx/Gy the 3x3 Sobel responses and Dx/Dy the central
    differences I[i, j+1] - I[i, j-1] and I[i+1, j] - I[i-1, j]. Pixel (i, j) belongs to cell
    (i * grid // H, j * grid // W).
    """
    h, w = img.shape
    for i in range(1, h - 1):
        ci = (i * grid) // h
        for cj in range(grid):
            # columns j of cell cj: cj * w / grid <= j < (cj + 1) * w / grid, within the interior
            j0 = max(1, (cj * w + grid - 1) // grid)
            j1 = min(w - 1, ((cj + 1) * w + grid - 1) // grid)
            n = 0.0
            s_lap = 0.0
            s_lap2 = 0.0
            s_ten = 0.0
            s_bren = 0.0
            for j in range(j0, j1):
                a = np.float64(img[i - 1, j - 1])
                b = np.float64(img[i - 1, j])
                c = np.float64(img[i - 1, j + 1])
                d = np.float64(img[i, j - 1])
                e = np.float64(img[i, j])
                f = np.float64(img[i, j + 1])
                g = np.float64(img[i + 1, j - 1])
                hh = np.float64(img[i + 1, j])
                k = np.float64(img[i + 1, j + 1])
                lap = b + d + f + hh - 4.0 * e
                gx = (c + 2.0 * f + k) - (a + 2.0 * d + g)
                gy = (g + 2.0 * hh + k) - (a + 2.0 * b + c)
                dx = f - d
                dy = hh - b
                n += 1.0
                s_lap += lap
                s_lap2 += lap * lap
                s_ten += gx * gx + gy * gy
                s_bren += dx * dx + dy * dy
            r = ci * grid + cj
            out[r, 0] += n
            out[r, 1] += s_lap
            out[r, 2] += s_lap2
            out[r, 3] += s_ten
            out[r, 4] += s_bren


@kernel
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


@kernel
def edge_widths(img, threshold, out):
    """Edge widths along rows (Marziliano et al. 2002); returns the number of edges found.

    An edge pixel is an interior pixel whose horizontal Sobel response |Gx| is a strict local
    maximum along its row (greater than the left neighbour, not less than the right one) and at
    least ``4 * threshold`` (a step of ``threshold`` grey levels). Its width is the distance
    between the nearest local extrema of the intensity profile on both sides: for a rising edge
    the walk goes left while intensity strictly decreases and right while it strictly increases
    (mirrored for a falling edge). ``out`` (length >= H * W) receives the widths in row-major
    order of the edge pixels.
    """
    h, w = img.shape
    n = 0
    t = 4.0 * threshold
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            gx = ((np.float64(img[i - 1, j + 1]) + 2.0 * img[i, j + 1] + img[i + 1, j + 1])
                  - (np.float64(img[i - 1, j - 1]) + 2.0 * img[i, j - 1] + img[i + 1, j - 1]))
            mag = abs(gx)
            if mag < t:
                continue
            if j > 1:
                gl = ((np.float64(img[i - 1, j]) + 2.0 * img[i, j] + img[i + 1, j])
                      - (np.float64(img[i - 1, j - 2]) + 2.0 * img[i, j - 2] + img[i + 1, j - 2]))
            else:
                gl = 0.0
            if j < w - 2:
                gr = ((np.float64(img[i - 1, j + 2]) + 2.0 * img[i, j + 2] + img[i + 1, j + 2])
                      - (np.float64(img[i - 1, j]) + 2.0 * img[i, j] + img[i + 1, j]))
            else:
                gr = 0.0
            if not (mag > abs(gl) and mag >= abs(gr)):
                continue
            s = 1.0 if gx > 0 else -1.0
            left = j
            while left > 0 and s * (np.float64(img[i, left - 1]) - img[i, left]) < 0.0:
                left -= 1
            right = j
            while right < w - 1 and s * (np.float64(img[i, right + 1]) - img[i, right]) > 0.0:
                right += 1
            out[n] = right - left
            n += 1
    return n

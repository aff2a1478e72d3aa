"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""

import io
import os

# The suite compiles the kernels at their first call (as numba does), so that which tests run a
# kernel's NumPy twin does not depend on their order; the twins and the switch between them and
# the kernels are tested on their own (tests/test_kernel_tier.py and the twins' test files).
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def natural_image(seed=0, shape=(96, 128)):
    """A deterministic natural-looking RGB uint8 image: smooth 1/f-like field plus texture."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    r = np.sqrt(fx ** 2 + fy ** 2)
    r[0, 0] = 1.0
    chans = []
    for _ in range(3):
        spec = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / r
        field = np.real(np.fft.ifft2(spec))
        field = (field - field.min()) / (np.ptp(field) + 1e-12)
        chans.append(field)
    img = np.stack(chans, -1) * 200 + 20 + rng.normal(0, 2, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(arr, fmt="JPEG", **kw):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def clip_calls(monkeypatch):
    """Every call of ``torch.nn.utils.clip_grad_norm_`` made during the test, as ``(bound, global gradient
    norm before, global gradient norm after)`` (the real function runs)."""
    torch = pytest.importorskip("torch")
    calls = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        norm = real(parameters, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters
                                                      if p.grad is not None]))
        calls.append((max_norm, float(norm), float(after)))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    return calls


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared data folder at {SHARED} (absent on a fresh clone)")
    return SHARED

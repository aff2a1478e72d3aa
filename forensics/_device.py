"""Which device a network or a decoder runs on: CUDA when asked for and present, else the CPU, saying why.

One rule for the library's GPU-capable parts (the YuNet face detector and ONNX models run by
onnxruntime, PyAV's hardware decoding): ``"auto"`` takes CUDA when it is there, ``"cpu"`` never
does, ``"cuda"`` asks for it. A request that cannot be met never fails the run: the work goes
to the CPU and the reason is recorded (an attribute of the object, a field of the result) and
issued once as a :class:`RuntimeWarning` when CUDA was asked for explicitly. The torch models
choose their device themselves (``torch.cuda.is_available()``, see
:class:`~forensics.embeddings.EmbeddingTransformer`).
"""

from __future__ import annotations

import warnings

__all__ = ["check_device", "onnx_providers", "session_device"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


def check_device(device):
    """Validate a device name: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:<n>"``.

    Returns
    -------
    str
        ``device`` unchanged.

    Raises
    ------
    ValueError
        For anything else (the message lists the valid names).

    Examples
    --------
    >>> check_device("cuda:1")
    'cuda:1'
    """
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or (
            device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>', got {device!r}")
    return device


def onnx_providers(device="auto", available=None):
    """onnxruntime execution providers for ``device``, with the reason when CUDA cannot be had.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:<n>"}
        Where to run. ``"cuda:<n>"`` selects GPU ``n`` (the provider's ``device_id``).
    available : list of str, optional
        The providers to choose from; default ``onnxruntime.get_available_providers()``.

    Returns
    -------
    providers : list
        For :class:`onnxruntime.InferenceSession`: CUDA (with its options) then the CPU, or
        the CPU alone.
    note : str
        Empty when the choice met the request; otherwise why CUDA is not used. With an
        explicit ``"cuda"`` request the note is also issued as a RuntimeWarning.

    Examples
    --------
    >>> onnx_providers("auto", available=["CUDAExecutionProvider", "CPUExecutionProvider"])
    ([('CUDAExecutionProvider', {'device_id': 0}), 'CPUExecutionProvider'], '')
    >>> onnx_providers("cpu", available=["CUDAExecutionProvider", "CPUExecutionProvider"])
    (['CPUExecutionProvider'], '')
    """
    check_device(device)
    if device == "cpu":
        return [_CPU], ""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    if _CUDA in available:
        device_id = int(device[5:]) if device.startswith("cuda:") else 0
        return [(_CUDA, {"device_id": device_id}), _CPU], ""
    note = (f"{_CUDA} is not among onnxruntime's providers ({', '.join(available) or 'none'}; the GPU build is "
            "the onnxruntime-gpu package): running on the CPU")
    if device != "auto":
        warnings.warn(f"device={device!r} asked, but {note}", RuntimeWarning, stacklevel=3)
        return [_CPU], note
    return [_CPU], ""


def session_device(session, providers, device="auto"):
    """The device an onnxruntime session really runs on, and why it is not CUDA when CUDA was chosen.

    onnxruntime falls back to the CPU by itself when the CUDA provider is installed but cannot
    start (no GPU, missing CUDA libraries); the session's own provider list tells.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
    providers : list
        The providers the session was created with (from :func:`onnx_providers`).
    device : str
        What was asked for; an explicit CUDA request that ended on the CPU also warns.

    Returns
    -------
    device : {"cuda", "cpu"}
    note : str
        Empty, or why the session runs on the CPU although CUDA was chosen.
    """
    used = session.get_providers()
    if used and used[0] == _CUDA:
        return "cuda", ""
    chosen = [p[0] if isinstance(p, tuple) else p for p in providers]
    if _CUDA not in chosen:
        return "cpu", ""
    note = f"onnxruntime could not start {_CUDA} (session providers: {', '.join(used)}): running on the CPU"
    if device != "auto":
        warnings.warn(f"device={device!r} asked, but {note}", RuntimeWarning, stacklevel=3)
    return "cpu", note

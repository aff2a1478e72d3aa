"""GPU where there is one: device selection and its fallback, tested on whatever machine runs them.

CI has no GPU: every CUDA request here must end on the CPU with its reason recorded and a
warning, never an error. On a machine with a GPU (and onnxruntime-gpu / PyAV's CUDA device) the
same tests check the other branch: the device is used and the note is empty.
"""

import warnings

import numpy as np
import pytest

from forensics._device import check_device, onnx_providers, session_device
from forensics.media import YuNetDetector, read_frames
from video_fixtures import write_video

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


# -- the rule, on given provider lists --------------------------------------------------------------

@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_valid_device_names(device):
    assert check_device(device) == device


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "", None, 0])
def test_invalid_device_names_are_refused(device):
    with pytest.raises(ValueError, match="'auto', 'cpu', 'cuda' or 'cuda:<n>'"):
        check_device(device)


def test_cuda_is_chosen_when_offered():
    offered = ["TensorrtExecutionProvider", CUDA, CPU]
    assert onnx_providers("auto", offered) == ([(CUDA, {"device_id": 0}), CPU], "")
    assert onnx_providers("cuda", offered) == ([(CUDA, {"device_id": 0}), CPU], "")
    assert onnx_providers("cuda:3", offered) == ([(CUDA, {"device_id": 3}), CPU], "")
    assert onnx_providers("cpu", offered) == ([CPU], "")


def test_cuda_missing_falls_back_with_a_reason():
    offered = ["AzureExecutionProvider", CPU]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" meets its request on the CPU: no warning, no note
        assert onnx_providers("auto", offered) == ([CPU], "")
    with pytest.warns(RuntimeWarning, match="device='cuda' asked, but CUDAExecutionProvider is not among"):
        providers, note = onnx_providers("cuda", offered)
    assert providers == [CPU] and "AzureExecutionProvider, CPUExecutionProvider" in note and "onnxruntime-gpu" in note


# -- real onnxruntime sessions ----------------------------------------------------------------------

@pytest.fixture
def relu_onnx(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "relu.onnx"
    onnx.save(model, str(path))
    return path


def test_session_reports_where_it_really_runs(relu_onnx):
    ort = pytest.importorskip("onnxruntime")
    asked = [(CUDA, {"device_id": 0}), CPU]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnxruntime's own warning about a provider it lacks
        session = ort.InferenceSession(str(relu_onnx), providers=asked)
    if CUDA in ort.get_available_providers() and session.get_providers()[0] == CUDA:
        assert session_device(session, asked, "cuda") == ("cuda", "")
        return
    with pytest.warns(RuntimeWarning, match="could not start CUDAExecutionProvider"):
        device, note = session_device(session, asked, "cuda")
    assert device == "cpu" and "session providers: CPUExecutionProvider" in note
    device, note = session_device(session, asked, "auto")  # recorded, not warned
    assert device == "cpu" and "could not start" in note
    assert session_device(session, [CPU], "cpu") == ("cpu", "")
    np.testing.assert_array_equal(session.run(None, {"x": np.array([[-1, 2, 3]], np.float32)})[0], [[0, 2, 3]])


def test_onnx_model_records_its_device(relu_onnx):
    pytest.importorskip("onnxruntime")
    from forensics.embeddings import OnnxModel

    model = OnnxModel(relu_onnx)
    expected = "cuda" if CUDA in model.session.get_providers() else "cpu"
    assert model.device == expected
    np.testing.assert_array_equal(model.run([[-2.0, 0.5, 1.0]]), [[0, 0.5, 1.0]])
    assert OnnxModel(relu_onnx, providers=[CPU]).device == "cpu"


# -- the YuNet face detector -------------------------------------------------------------------------

@pytest.fixture
def yunet_path(shared_dir):
    path = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not path.is_file():
        pytest.skip(f"needs the YuNet model at {path}")
    return path


@pytest.fixture
def astronaut():
    from skimage import data

    return data.astronaut()


def test_yunet_cuda_request_runs_on_what_there_is(yunet_path, astronaut):
    pytest.importorskip("onnxruntime")
    cpu = YuNetDetector(yunet_path, engine="onnxruntime", device="cpu")
    expected = cpu.detect(astronaut)
    assert len(expected) == 1 and (cpu.device_, cpu.device_note_) == ("cpu", "")
    det = YuNetDetector(yunet_path, engine="onnxruntime", device="cuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        faces = det.detect(astronaut)
    if det.device_ == "cuda":  # a GPU machine with onnxruntime-gpu
        assert det.device_note_ == "" and len(faces) == 1
        np.testing.assert_allclose(faces[0].bbox, expected[0].bbox, atol=1.0)
        return
    assert "CUDAExecutionProvider" in det.device_note_ and "running on the CPU" in det.device_note_
    assert any(issubclass(w.category, RuntimeWarning) and "device='cuda'" in str(w.message) for w in caught)
    assert [f.bbox for f in faces] == [f.bbox for f in expected]  # the same network, on the CPU


def test_yunet_opencv_engine_says_it_stays_on_the_cpu(yunet_path, astronaut):
    det = YuNetDetector(yunet_path, engine="opencv", device="cuda")
    with pytest.warns(RuntimeWarning, match="OpenCV engine runs on the CPU"):
        assert len(det.detect(astronaut)) == 1
    assert det.device_ == "cpu"
    auto = YuNetDetector(yunet_path, engine="opencv")
    auto.detect(astronaut)
    assert (auto.device_, auto.device_note_) == ("cpu", "")


def test_yunet_invalid_device_is_refused_at_first_use(yunet_path, astronaut):
    det = YuNetDetector(yunet_path, device="gpu")  # nothing checked before first use
    with pytest.raises(ValueError, match="device must be"):
        det.detect(astronaut)


# -- PyAV hardware decoding --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    rng = np.random.default_rng(0)
    base = rng.integers(30, 220, (72, 96, 3)).astype(np.uint8)
    frames = [np.ascontiguousarray(np.roll(base, 2 * k, axis=1)) for k in range(10)]
    return str(write_video(tmp_path_factory.mktemp("hw") / "clip.mp4", frames))


def test_hwaccel_cuda_decodes_or_falls_back_with_the_reason(clip):
    av = pytest.importorskip("av")
    software = read_frames(clip, n=4)
    assert (software.decoder, software.decoder_note) == ("software", "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hw = read_frames(clip, n=4, hwaccel="cuda")
    np.testing.assert_array_equal(hw.indices, software.indices)
    assert hw.errors == [] and len(hw.missing) == 0
    if hw.decoder == "cuda":  # a GPU machine: NVDEC's nv12 frames unpacked to yuv420p give the same RGB
        assert hw.decoder_note == ""
        for a, b in zip(hw.frames, software.frames):
            np.testing.assert_array_equal(a, b)
        return
    assert hw.decoder == "software"
    assert hw.decoder_note.startswith("hwaccel 'cuda' not used: ") and hw.decoder_note.endswith("decoded in software")
    reason = ("could not start" if "cuda" in av.codec.hwaccel.hwdevices_available() else "offers no such device")
    assert reason in hw.decoder_note
    assert any("hwaccel 'cuda' not used" in str(w.message) and clip in str(w.message) for w in caught)
    for a, b in zip(hw.frames, software.frames):
        np.testing.assert_array_equal(a, b)


def test_hwaccel_device_missing_from_the_build(clip):
    """Decoded in software, with the reason in decoder_note and in a warning at the caller's line
    (it pointed inside the reader)."""
    import inspect

    with pytest.warns(RuntimeWarning, match="offers no such device") as record:
        line = inspect.currentframe().f_lineno + 1
        res = read_frames(clip, n=2, hwaccel="no-such-device")
    assert res.decoder == "software" and "(it offers: " in res.decoder_note and len(res.frames) == 2
    assert [(w.filename, w.lineno) for w in record] == [(__file__, line)]
    assert str(record[0].message) == f"{clip}: {res.decoder_note}"


@pytest.mark.parametrize("bad", [1, True, ["cuda"]])
def test_hwaccel_must_be_a_name(clip, bad):
    with pytest.raises(TypeError, match="hwaccel must be None or a device type name"):
        read_frames(clip, n=2, hwaccel=bad)


def test_hardware_layouts_unpack_to_the_software_rgb():
    """Frames downloaded from a decoder (nv12, p010le...) reach the RGB of the software decoder's layout.

    Measured on an H200 with PyAV 18.1 (NVDEC, H.264, 300 frames): nv12 frames converted straight
    to RGB differed from software decoding by up to 127 levels (mean 4.4-4.6); unpacked first,
    300/300 frames were identical (docs/results.md). Here each layout is made from a software
    frame on the CPU.
    """
    av = pytest.importorskip("av")
    from av.video.reformatter import VideoReformatter

    from forensics.media._video import _PLANAR

    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    convert = VideoReformatter()
    for packed, planar in _PLANAR.items():
        software = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=planar)
        expected = convert.reformat(software, format="rgb24").to_ndarray()
        downloaded = software.reformat(format=packed)
        unpacked = convert.reformat(downloaded.reformat(format=planar), format="rgb24").to_ndarray()
        np.testing.assert_array_equal(unpacked, expected, err_msg=packed)
        if packed == "nv12":  # the direct conversion the unpacking avoids is not the same
            assert not np.array_equal(convert.reformat(downloaded, format="rgb24").to_ndarray(), expected)

"""Face detection and square crops (forensics.media._faces)."""

import importlib.util
import pickle
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from forensics.media._faces import (
    CascadeDetector,
    Face,
    FaceCropper,
    FaceRecord,
    MTCNNDetector,
    YuNetDetector,
    _group_rectangles,
    _opencv_haar_cascade,
    crop_face,
    make_detector,
    records_to_frame,
    square_box,
)

from conftest import natural_image

# In skimage's astronaut (512x512) the face spans about x 178..268, y 63..176 (YuNet's box);
# this point lies between the eyes, above the nose.
ASTRONAUT_FACE_POINT = (222, 105)


def _contains(bbox, point):
    x, y, w, h = bbox
    return x <= point[0] <= x + w and y <= point[1] <= y + h


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def two_astronauts(astronaut):
    """The astronaut at full size on the left, at half size on the right (two faces)."""
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    img = np.zeros((512, 768, 3), np.uint8)
    img[:, :512] = astronaut
    img[128:384, 512:] = small
    return img


@pytest.fixture
def yunet_path(shared_dir):
    path = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not path.is_file():
        pytest.skip(f"needs the YuNet model at {path}")
    return path


@pytest.fixture
def lfw_real(shared_dir):
    folder = shared_dir / "data" / "lfw_faceswap" / "real"
    files = sorted(folder.glob("*.jpg"))[:5]
    if len(files) < 5:
        pytest.skip(f"needs 5 LFW images in {folder}")
    return [np.asarray(Image.open(p).convert("RGB")) for p in files]


@pytest.fixture(scope="module")
def cascade_on_astronaut(astronaut):
    det = CascadeDetector()
    return det, det.detect(astronaut)


class StubDetector:
    """Returns fixed faces, to test the selection logic without a model."""

    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return sorted(self.faces, key=lambda f: -f.area)


# -- square_box --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bbox, margin, shape, expected",
    [
        # centred: side 1.5 * 40 = 60 around the centre (120, 70)
        ((100, 50, 40, 40), 1.5, (200, 300), (90, 40, 60, 60)),
        # longer side decides: max(40, 60) * 1.0 = 60, centre (120, 80)
        ((100, 50, 40, 60), 1.0, (200, 300), (90, 50, 60, 60)),
        # 1.3 * 30 = 39, centre (75, 55): corner 55.5 -> 56 and 35.5 -> 36 (half up)
        ((60, 40, 30, 30), 1.3, (120, 160, 3), (56, 36, 39, 39)),
        # left border: side 40 centred at x 10 would start at -10, shifted to 0
        ((0, 50, 20, 20), 2.0, (200, 300), (0, 40, 40, 40)),
        # right border: would end at 310 > 300, shifted to 300 - 40
        ((280, 50, 20, 20), 2.0, (200, 300), (260, 40, 40, 40)),
        # top border
        ((100, 0, 20, 20), 2.0, (200, 300), (90, 0, 40, 40)),
        # bottom border: would end at 210 > 200
        ((100, 180, 20, 20), 2.0, (200, 300), (90, 160, 40, 40)),
        # frame (50 x 80) smaller than the side 60: side shrinks to 50, x centred (30 - 25),
        # y pinned to the only possible value 0
        ((10, 10, 40, 40), 1.5, (50, 80), (5, 0, 50, 50)),
        # a box crossing the border (negative x from the detector) stays inside
        ((-10, 20, 30, 30), 1.0, (100, 100), (0, 20, 30, 30)),
    ],
)
def test_square_box_hand_computed(bbox, margin, shape, expected):
    assert square_box(bbox, margin=margin, frame_shape=shape) == expected


def test_square_box_always_inside_and_square():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(1, 300, size=2)
        bw, bh = rng.uniform(1, 200, size=2)
        x, y = rng.uniform(-50, w), rng.uniform(-50, h)
        x0, y0, s, s2 = square_box((x, y, bw, bh), margin=rng.uniform(0.5, 3), frame_shape=(h, w))
        assert s == s2 and 1 <= s <= min(h, w)
        assert 0 <= x0 and x0 + s <= w and 0 <= y0 and y0 + s <= h


@pytest.mark.parametrize("bbox", [(0, 0, 0, 10), (0, 0, 10, -1), (np.nan, 0, 10, 10)])
def test_square_box_rejects_bad_bbox(bbox):
    with pytest.raises(ValueError, match="bbox"):
        square_box(bbox, frame_shape=(100, 100))


# -- crop_face ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bbox, size, interp",
    [
        ((40, 30, 60, 60), 32, cv2.INTER_AREA),  # side 78 > 32: shrink
        ((60, 40, 20, 20), 64, cv2.INTER_CUBIC),  # side 26 < 64: enlarge
    ],
)
def test_crop_face_equals_resized_region(bbox, size, interp):
    rgb = natural_image(3, (120, 160))
    crop, box = crop_face(rgb, bbox, margin=1.3, size=size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    assert box == square_box(bbox, margin=1.3, frame_shape=rgb.shape)
    x0, y0, s, _ = box
    expected = cv2.resize(rgb[y0:y0 + s, x0:x0 + s], (size, size), interpolation=interp)
    np.testing.assert_array_equal(crop, expected)


def test_crop_face_same_size_is_an_exact_copy():
    rgb = natural_image(4, (100, 100))
    crop, (x0, y0, s, _) = crop_face(rgb, (30, 30, 40, 40), margin=1.0, size=40)
    assert s == 40
    np.testing.assert_array_equal(crop, rgb[y0:y0 + 40, x0:x0 + 40])
    crop[:] = 0  # a copy, not a view into the frame
    assert rgb[y0:y0 + 40, x0:x0 + 40].any()


def test_crop_face_rejects_non_rgb_uint8():
    with pytest.raises(ValueError, match="uint8"):
        crop_face(np.zeros((50, 50, 3), np.float32), (10, 10, 20, 20))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        crop_face(np.zeros((50, 50), np.uint8), (10, 10, 20, 20))


# -- cascade -----------------------------------------------------------------------------------
def test_group_rectangles_follows_opencv_rule():
    # five near-identical boxes, two near-identical others elsewhere, one lone box
    cluster = [[100, 100, 50, 50], [102, 98, 50, 50], [98, 101, 52, 52], [101, 102, 48, 48], [99, 99, 50, 50]]
    other = [[10, 10, 40, 40], [11, 10, 40, 40]]
    lone = [[200, 10, 30, 30]]
    boxes, counts = _group_rectangles(cluster + other + lone, group_threshold=1)
    # clusters of size <= 1 are dropped; averages rounded half up
    order = np.argsort(-counts)
    np.testing.assert_array_equal(counts[order], [5, 2])
    np.testing.assert_array_equal(boxes[order][0], [100, 100, 50, 50])
    np.testing.assert_array_equal(boxes[order][1], [11, 10, 40, 40])  # 10.5 -> 11
    boxes, counts = _group_rectangles(cluster + other + lone, group_threshold=2)
    np.testing.assert_array_equal(counts, [5])
    # a small box with few members inside a large well-supported one is removed
    inner = [[110, 110, 20, 20]] * 3
    boxes, counts = _group_rectangles(cluster + inner, group_threshold=2)
    np.testing.assert_array_equal(counts, [5])
    # threshold 0 leaves the boxes as they are, as OpenCV does
    boxes, counts = _group_rectangles(lone + other, group_threshold=0)
    np.testing.assert_array_equal(boxes, lone + other)
    np.testing.assert_array_equal(counts, [1, 1, 1])


def test_cascade_finds_astronaut_face(cascade_on_astronaut):
    det, faces = cascade_on_astronaut
    assert len(faces) == 1
    face = faces[0]
    assert _contains(face.bbox, ASTRONAUT_FACE_POINT)
    assert 70 <= face.bbox[2] <= 130
    assert face.score > det.min_neighbors and float(face.score).is_integer()
    assert face.landmarks is None


def test_cascade_engine_and_default_file(cascade_on_astronaut):
    det, _ = cascade_on_astronaut
    if hasattr(cv2, "CascadeClassifier") and _opencv_haar_cascade():  # OpenCV 4.x wheels
        assert det.engine_ == "opencv" and det.cascade_path_.endswith("haarcascade_frontalface_default.xml")
    else:  # OpenCV >= 5 wheels: no CascadeClassifier, no cascade files
        assert det.engine_ == "skimage" and det.cascade_path_.endswith("lbpcascade_frontalface_opencv.xml")


def test_cascade_opencv_engine_missing_says_so():
    if hasattr(cv2, "CascadeClassifier"):
        pytest.skip("this OpenCV build has cv2.CascadeClassifier")
    with pytest.raises(ImportError, match="CascadeClassifier"):
        CascadeDetector(engine="opencv").detect(np.zeros((40, 40, 3), np.uint8))


def test_cascade_flat_image_has_no_face():
    assert CascadeDetector().detect(np.full((120, 160, 3), 128, np.uint8)) == []


def test_cascade_finds_centred_face_in_lfw(lfw_real):
    det = CascadeDetector()
    for img in lfw_real:
        faces = det.detect(img)
        assert faces, "no face found in a 250x250 LFW photo"
        x, y, w, h = faces[0].bbox
        assert abs(x + w / 2 - 125) < 25 and abs(y + h / 2 - 125) < 25, faces[0].bbox


def test_cascade_bad_path_and_engine(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.xml"):
        CascadeDetector(tmp_path / "nope.xml").detect(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="engine"):
        CascadeDetector(engine="dlib").detect(np.zeros((40, 40, 3), np.uint8))
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises((ValueError, ImportError), match="bad.xml"):
        CascadeDetector(bad).detect(np.zeros((40, 40, 3), np.uint8))


def test_detect_rejects_bad_frames():
    det = CascadeDetector()
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((40, 40, 3), np.float64))
    with pytest.raises(ValueError, match="empty"):
        det.detect(np.zeros((0, 40, 3), np.uint8))
    with pytest.raises(TypeError, match="ndarray"):
        det.detect([[0, 0, 0]])


def test_detectors_load_lazily_and_pickle_without_model(cascade_on_astronaut, astronaut):
    det, faces = cascade_on_astronaut
    assert CascadeDetector().__dict__.get("model_") is None  # nothing loaded in __init__
    assert getattr(det, "model_", None) is not None
    clone = pickle.loads(pickle.dumps(det))
    assert getattr(clone, "model_", None) is None
    again = clone.detect(astronaut)  # reloads on first use
    assert getattr(clone, "model_", None) is not None
    assert [f.bbox for f in again] == [f.bbox for f in faces]
    assert [f.score for f in again] == [f.score for f in faces]


# -- YuNet -------------------------------------------------------------------------------------
def test_yunet_missing_model_names_path_and_source(tmp_path):
    det = YuNetDetector(tmp_path / "missing.onnx")  # no error before first use
    with pytest.raises(FileNotFoundError) as err:
        det.detect(np.zeros((64, 64, 3), np.uint8))
    assert "missing.onnx" in str(err.value) and "face_detection_yunet_2023mar.onnx" in str(err.value)
    assert "opencv_zoo" in str(err.value)


def test_yunet_astronaut_one_face(yunet_path, astronaut):
    faces = YuNetDetector(yunet_path).detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.9
    assert _contains(face.bbox, ASTRONAUT_FACE_POINT)
    assert 60 <= face.bbox[2] <= 130 and 80 <= face.bbox[3] <= 150
    assert face.landmarks.shape == (5, 2)
    # landmarks inside the box; the image-left eye is left of the image-right eye, the
    # eyes are above the nose and the nose above the mouth corners
    assert all(_contains(face.bbox, p) for p in face.landmarks)
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lx < rx and mlx < mrx and max(ly, ry) < ny < min(mly, mry)


def test_yunet_flat_grey_has_no_face(yunet_path):
    assert YuNetDetector(yunet_path).detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_yunet_expects_bgr(yunet_path, astronaut):
    """The detector converts RGB to BGR itself: its result matches OpenCV fed BGR directly."""
    ref = cv2.FaceDetectorYN.create(str(yunet_path), "", (512, 512), 0.6, 0.3, 50)
    _, out = ref.detect(np.ascontiguousarray(astronaut[:, :, ::-1]))
    face = YuNetDetector(yunet_path).detect(astronaut)[0]
    np.testing.assert_allclose(face.bbox, out[0, :4], rtol=0, atol=1e-4)
    np.testing.assert_allclose(face.score, out[0, 14], atol=1e-6)


def test_yunet_finds_centred_face_in_lfw(yunet_path, lfw_real):
    det = YuNetDetector(yunet_path)
    for img in lfw_real:
        faces = det.detect(img)
        assert faces and faces[0].score > 0.8
        x, y, w, h = faces[0].bbox
        assert abs(x + w / 2 - 125) < 25 and abs(y + h / 2 - 125) < 25, faces[0].bbox


def test_yunet_size_change_and_pickle(yunet_path, astronaut, two_astronauts):
    det = YuNetDetector(yunet_path)
    first = det.detect(astronaut)
    two = det.detect(two_astronauts)  # another input size on the same instance
    assert len(two) == 2 and two[0].area > two[1].area
    assert two[0].bbox == pytest.approx(first[0].bbox, abs=1e-3)  # same face, same place
    assert _contains(two[1].bbox, (512 + ASTRONAUT_FACE_POINT[0] / 2, 128 + ASTRONAUT_FACE_POINT[1] / 2))
    clone = pickle.loads(pickle.dumps(det))
    assert getattr(clone, "model_", None) is None
    again = clone.detect(astronaut)
    assert again[0].bbox == pytest.approx(first[0].bbox, abs=1e-4)


# -- MTCNN -------------------------------------------------------------------------------------
def test_mtcnn_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import now fails
    det = MTCNNDetector()  # nothing imported yet
    with pytest.raises(ImportError, match=r"pip install facenet-pytorch==2\.5\.3"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_mtcnn_astronaut(astronaut):
    pytest.importorskip("facenet_pytorch", reason="MTCNN needs facenet-pytorch and torch (not installed)")
    det = MTCNNDetector()
    faces = det.detect(astronaut)
    assert len(faces) == 1 and faces[0].score > 0.9
    assert _contains(faces[0].bbox, ASTRONAUT_FACE_POINT)
    assert faces[0].landmarks.shape == (5, 2)
    clone = pickle.loads(pickle.dumps(det))
    assert clone.detect(astronaut)[0].bbox == pytest.approx(faces[0].bbox, abs=1e-3)


# -- make_detector -----------------------------------------------------------------------------
def test_make_detector_names():
    with pytest.raises(ValueError, match="model_path"):
        make_detector("yunet")
    with pytest.raises(ValueError, match="backend"):
        make_detector("hog")
    det = make_detector("auto", model_path="yunet.onnx")
    assert isinstance(det, YuNetDetector) and det.model_path == "yunet.onnx"
    assert isinstance(make_detector("cascade"), CascadeDetector)
    assert isinstance(make_detector("mtcnn"), MTCNNDetector)  # lazy: no import needed to build it
    expected = MTCNNDetector if importlib.util.find_spec("facenet_pytorch") else CascadeDetector
    assert isinstance(make_detector(), expected)


def test_resolve_detector_names_the_backend_that_runs(monkeypatch, tmp_path):
    import forensics.media._faces as mod
    from forensics.media import resolve_detector
    from forensics.media._faces import unavailable_reason

    real = importlib.util.find_spec
    # facenet-pytorch is not installed here: its presence is simulated where find_spec is asked (as above)
    for installed, expected in ((True, "mtcnn"), (False, "cascade")):
        monkeypatch.setattr(mod.importlib.util, "find_spec",
                            lambda name, *a, _i=installed: (object() if _i else None) if name == "facenet_pytorch"
                            else real(name, *a))
        assert resolve_detector() == resolve_detector("auto") == expected
        assert type(make_detector()).__name__ == {"mtcnn": "MTCNNDetector", "cascade": "CascadeDetector"}[expected]
        assert resolve_detector("auto", "yunet.onnx") == "yunet"  # a model file means YuNet, installed or not
        assert [resolve_detector(b) for b in ("yunet", "cascade", "mtcnn")] == ["yunet", "cascade", "mtcnn"]
        # MTCNN cannot run without facenet-pytorch; the check imports nothing
        assert (unavailable_reason("mtcnn") is None) == installed
    assert "needs facenet-pytorch, which is not installed" in unavailable_reason("mtcnn")
    with pytest.raises(ValueError, match="backend must be"):
        resolve_detector("hog")
    # YuNet needs its model file; the cascade ships with the libraries
    assert unavailable_reason("yunet", tmp_path / "y.onnx") == f"face detector 'yunet': model file not found: " \
                                                              f"{tmp_path / 'y.onnx'!r}"
    (tmp_path / "y.onnx").write_bytes(b"x")
    assert unavailable_reason("yunet", tmp_path / "y.onnx") is None and unavailable_reason("cascade") is None


def test_make_detector_auto_prefers_mtcnn_when_installed(monkeypatch):
    import forensics.media._faces as mod

    real = importlib.util.find_spec
    monkeypatch.setattr(mod.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "facenet_pytorch" else real(name, *a))
    assert isinstance(make_detector("auto"), MTCNNDetector)
    monkeypatch.setattr(mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "facenet_pytorch" else real(name, *a))
    assert isinstance(make_detector("auto"), CascadeDetector)


# -- FaceCropper -------------------------------------------------------------------------------
FACES = [
    Face((10, 10, 20, 20), 0.99),  # small, best score
    Face((60, 20, 50, 50), 0.70),  # largest
    Face((120, 60, 30, 30), 0.50),
]


def test_cropper_frame_without_face_gives_one_record():
    frame = np.full((90, 120, 3), 128, np.uint8)
    crops, records = FaceCropper(StubDetector([]), size=32).crop(frame, frame_index=5)
    assert crops == []
    assert len(records) == 1
    r = records[0]
    assert (r.frame_index, r.face_index, r.face_found, r.bbox, r.box, r.n_faces) == (5, -1, False, None, None, 0)
    assert np.isnan(r.score)


@pytest.mark.parametrize(
    "select, expected_indices",
    [("largest", [0]), ("best", [2]), ("all", [0, 1, 2])],  # indices in the area order
)
def test_cropper_select(select, expected_indices):
    frame = natural_image(5, (120, 180))
    cropper = FaceCropper(StubDetector(FACES), size=24, select=select)
    crops, records = cropper.crop(frame, frame_index=3)
    by_area = sorted(FACES, key=lambda f: -f.area)
    assert [r.face_index for r in records] == expected_indices
    assert len(crops) == len(records)
    for crop, r in zip(crops, records):
        face = by_area[r.face_index]
        assert r.face_found and r.frame_index == 3 and r.n_faces == 3
        assert r.bbox == face.bbox and r.score == face.score
        expected_crop, box = crop_face(frame, face.bbox, margin=1.3, size=24)
        assert r.box == box
        np.testing.assert_array_equal(crop, expected_crop)


def test_cropper_min_score_ignores_weak_faces():
    frame = natural_image(6, (120, 180))
    crops, records = FaceCropper(StubDetector(FACES), select="all", min_score=0.6, size=16).crop(frame)
    assert [r.score for r in records] == [0.70, 0.99] and all(r.n_faces == 2 for r in records)
    crops, records = FaceCropper(StubDetector(FACES), min_score=1.5, size=16).crop(frame)
    assert crops == [] and records[0].face_found is False and records[0].n_faces == 0


def test_cropper_validates_select():
    with pytest.raises(ValueError, match="select"):
        FaceCropper(StubDetector(FACES), select="first").crop(natural_image(0, (40, 40)))


def test_cropper_default_detector_is_lazy():
    cropper = FaceCropper()
    assert cropper.detector is None and not hasattr(cropper, "detector_")
    cropper.crop(np.full((60, 80, 3), 128, np.uint8))
    expected = MTCNNDetector if importlib.util.find_spec("facenet_pytorch") else CascadeDetector
    assert isinstance(cropper.detector_, expected)


def test_cropper_two_faces_yunet(yunet_path, two_astronauts):
    det = YuNetDetector(yunet_path)
    crops, records = FaceCropper(det, select="all", size=64).crop(two_astronauts, frame_index=1)
    assert len(crops) == 2 and [r.face_index for r in records] == [0, 1]
    assert all(r.n_faces == 2 for r in records)
    assert records[0].bbox[0] < 512 <= records[1].bbox[0]  # the big face is on the left
    crops, records = FaceCropper(det, select="largest", size=64).crop(two_astronauts)
    assert len(crops) == 1 and records[0].bbox[0] < 512 and records[0].n_faces == 2
    crops, records = FaceCropper(det, select="best", size=64, detect_size=None).crop(two_astronauts)
    all_scores = [f.score for f in det.detect(two_astronauts)]  # full resolution, like detect_size=None
    assert records[0].score == max(all_scores)


def test_cropper_astronaut_crop_is_the_face(cascade_on_astronaut, astronaut):
    det, _ = cascade_on_astronaut
    crops, records = FaceCropper(det, size=64, margin=1.5).crop(astronaut)
    assert len(crops) == 1 and crops[0].shape == (64, 64, 3)
    x0, y0, s, _ = records[0].box
    assert _contains((x0, y0, s, s), ASTRONAUT_FACE_POINT)


# -- records_to_frame --------------------------------------------------------------------------
def test_records_to_frame_keeps_every_record_in_order():
    records = [
        FaceRecord(0, 0, True, (10.0, 20.0, 30.0, 40.0), 0.9, (5, 15, 39, 39), 2),
        FaceRecord(0, 1, True, (50.0, 20.0, 10.0, 10.0), 0.8, (48, 18, 13, 13), 2),
        FaceRecord(1, -1, False, None, float("nan"), None, 0),
    ]
    df = records_to_frame(records)
    assert list(df["frame_index"]) == [0, 0, 1]
    assert list(df["face_index"]) == [0, 1, -1]
    assert list(df["face_found"]) == [True, True, False]
    assert list(df["n_faces"]) == [2, 2, 0]
    assert df.loc[0, ["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert df.loc[1, "box_side"] == 13
    assert df.loc[2, ["bbox_x", "score"]].isna().all() and df.loc[2, ["box_x", "box_side"]].isna().all()
    assert str(df["box_x"].dtype) == "Int64"
    empty = records_to_frame([])
    assert len(empty) == 0 and "face_found" in empty.columns


# -- model-free detectors that obey the geometry of the picture ----------------------------------
RED, BLUE = (230, 30, 30), (30, 30, 230)


class ColourFaceDetector:
    """A 'face' is a patch of one of the given colours: one box per colour, in the picture's own
    coordinates, so it behaves like a real detector under downscaling and on parts of a frame.
    A patch less than ``min_visible`` visible (of the square on its longer extent) is not found,
    as a real detector misses a mostly hidden face."""

    def __init__(self, colours=(RED, BLUE), min_visible=0.6, score_visible=False):
        self.colours = colours
        self.min_visible = min_visible
        self.score_visible = score_visible  # score = 0.9 x the visible fraction, as a partial face scores lower
        self.seen = []

    def detect(self, rgb):
        self.seen.append(rgb.shape)
        faces = []
        for colour in self.colours:
            mask = np.all(np.abs(rgb.astype(int) - colour) < 40, axis=2)
            ys, xs = np.nonzero(mask)
            if len(xs) < 4:
                continue
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            side = max(x1 - x0, y1 - y0)
            if len(xs) >= self.min_visible * side * side:
                score = 0.9 * len(xs) / (side * side) if self.score_visible else 0.9
                faces.append(Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), score))
        return sorted(faces, key=lambda f: (-f.area, f.bbox[0]))  # equal sizes: left one first


def _identity(frame, bbox):
    """RED or BLUE: the colour covering most of the box."""
    x, y, w, h = (int(round(v)) for v in bbox)
    patch = frame[max(y, 0):y + h, max(x, 0):x + w].astype(int)
    counts = [np.all(np.abs(patch - c) < 40, axis=2).sum() for c in (RED, BLUE)]
    return (RED, BLUE)[int(np.argmax(counts))]


def crossing_frames(n=9, size=40, speed=30, dy=20, shape=(160, 300)):
    """RED moves right, BLUE moves left, BLUE in front; they cross half-overlapping (``dy`` apart)."""
    h, w = shape
    frames = []
    for t in range(n):
        f = np.full((h, w, 3), 128, np.uint8)
        ax, bx = 25 + speed * t, 265 - speed * t
        f[50:50 + size, ax - size // 2:ax + size // 2] = RED
        f[50 + dy:50 + dy + size, bx - size // 2:bx + size // 2] = BLUE
        frames.append(f)
    return frames


@pytest.mark.parametrize("reuse", [False, True])
def test_tracks_keep_each_person_when_faces_cross(reuse):
    frames = crossing_frames()
    det = ColourFaceDetector()
    # every face alone in a frame is found by a per-frame detector; the crossing is the test
    assert all(len(det.detect(f)) in (1, 2) for f in frames)
    cropper = FaceCropper(det, select="all", size=32, reuse=reuse)
    crops, records = cropper.crop_frames(enumerate(frames))
    by_track = {}
    for r in records:
        assert r.face_found
        by_track.setdefault(r.track_id, set()).add(_identity(frames[r.frame_index], r.bbox))
    assert sorted(by_track) == [0, 1] and all(len(ids) == 1 for ids in by_track.values()), by_track
    # the plain nearest-box rule would swap them at frames 3 -> 4 (30 px own move, 20 px to the other)
    one = FaceCropper(ColourFaceDetector(), select="largest", size=32, reuse=reuse)
    crops, records = one.crop_frames(enumerate(frames))
    people = {_identity(frames[r.frame_index], r.bbox) for r in records if r.face_found}
    assert len(people) == 1 and len({r.track_id for r in records if r.face_found}) == 1
    assert sum(r.face_found for r in records) >= len(frames) - 1  # hidden at most at the crossing
    assert len(crops) == sum(r.face_found for r in records)


def test_largest_track_is_the_most_persistent_face():
    """A bigger face seen in 2 frames loses to a face seen in all 6: total area decides."""
    frames = []
    for t in range(6):
        f = np.full((120, 200, 3), 128, np.uint8)
        f[20:50, 20 + 2 * t:50 + 2 * t] = BLUE  # 30 px, every frame
        if t in (2, 3):
            f[40:90, 120:170] = RED  # 50 px, two frames
        frames.append(f)
    crops, records = FaceCropper(ColourFaceDetector(), size=16).crop_frames(enumerate(frames))
    assert [_identity(frames[r.frame_index], r.bbox) for r in records] == [BLUE] * 6
    assert [r.n_faces for r in records] == [1, 1, 2, 2, 1, 1]
    # seen in half as many frames as the most persistent face (3 of 6): it competes, and wins on area
    for t in (1, 4):
        frames[t][40:90, 120:170] = RED
    crops, records = FaceCropper(ColourFaceDetector(), size=16).crop_frames(enumerate(frames[:6]))
    assert [_identity(frames[r.frame_index], r.bbox) for r in records if r.face_found] == [RED] * 4
    frames[1][40:90, 120:170] = 128  # back to 3 of 6
    frames[4][40:90, 120:170] = 128
    # one frame alone: the larger face, as before
    crops, records = FaceCropper(ColourFaceDetector(), size=16).crop(frames[2])
    assert _identity(frames[2], records[0].bbox) == RED and records[0].face_index == 0
    # select="best" on equal scores keeps the earlier, larger track of the first frame
    crops, records = FaceCropper(ColourFaceDetector(), size=16, select="best").crop_frames(enumerate(frames))
    assert {_identity(frames[r.frame_index], r.bbox) for r in records if r.face_found} == {BLUE}


def test_search_near_the_track_then_whole_frame_when_lost():
    frames = crossing_frames(n=6, dy=80, shape=(200, 300))  # never overlapping
    det = ColourFaceDetector(colours=(RED,))
    crops, records = FaceCropper(det, size=16, reuse=True, redetect_every=None).crop_frames(enumerate(frames))
    assert [r.detection for r in records] == ["full"] + ["near"] * 5
    assert det.seen[0] == (200, 300, 3) and all(s == (100, 100, 3) for s in det.seen[1:])  # 2.5 x 40 px
    ref = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16, reuse=False).crop_frames(enumerate(frames))[1]
    for a, b in zip(records, ref):
        assert a.bbox == pytest.approx(b.bbox, abs=1e-9)  # same boxes, found near the previous one
    # redetect_every=2: the whole frame every other frame
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16, reuse=True,
                                 redetect_every=2).crop_frames(enumerate(frames))
    assert [r.detection for r in records] == ["full", "near"] * 3
    # a face far from the search square: the whole frame is searched; too far to be the same
    # person, it starts a new track, and the selected (longer) track has no face in that frame
    jump = [f.copy() for f in frames[:3]]
    jump[2][:] = 128
    jump[2][150:190, 250:290] = RED
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16, reuse=True,
                                 redetect_every=None, select="all").crop_frames(enumerate(jump))
    assert [r.detection for r in records] == ["full", "near", "full"]
    assert records[2].bbox == (250.0, 150.0, 40.0, 40.0) and [r.track_id for r in records] == [0, 0, 1]
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16, reuse=True,
                                 redetect_every=None).crop_frames(enumerate(jump))
    assert [r.face_found for r in records] == [True, True, False] and records[2].n_faces == 1
    # a duck-typed detector is not trusted on parts of a frame unless asked
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16).crop_frames(enumerate(frames))
    assert {r.detection for r in records} == {"full"}


@pytest.mark.parametrize("long_side, detect_size, seen", [
    (639, 640, 639), (640, 640, 640), (641, 640, 640), (1800, 640, 640), (1800, None, 1800), (1800, 300, 300)])
def test_detection_on_a_downscaled_frame_crops_from_full_resolution(long_side, detect_size, seen):
    h = long_side * 2 // 3
    frame = np.full((h, long_side, 3), 128, np.uint8)
    box = (long_side // 3, h // 4, h // 3, h // 3)
    frame[box[1]:box[1] + box[3], box[0]:box[0] + box[2]] = RED
    frame[box[1] + 4:box[1] + 8, box[0] + 4:box[0] + 8] = (250, 250, 250)  # full-resolution detail
    det = ColourFaceDetector(colours=(RED,), min_visible=0.5)
    crops, records = FaceCropper(det, size=48, detect_size=detect_size).crop(frame)
    assert max(det.seen[0][:2]) == seen
    scale = long_side / seen
    assert records[0].bbox == pytest.approx(box, abs=1.5 * scale)  # mapped back to full resolution
    expected, cut = crop_face(frame, records[0].bbox, margin=1.3, size=48)
    assert records[0].box == cut
    np.testing.assert_array_equal(crops[0], expected)  # cut from the full-resolution frame


def test_landmarks_are_mapped_back_with_the_box():
    class Marked:
        def detect(self, rgb):
            h, w = rgb.shape[:2]
            return [Face((w / 4, h / 4, w / 2, h / 2), 0.9, np.array([[w / 4, h / 4]] * 5, float))]

    from forensics.media._faces import _scaled

    face = Marked().detect(np.zeros((100, 200, 3), np.uint8))[0]
    g = _scaled(face, 3.0, 2.0, 10.0, 5.0)
    assert g.bbox == (160.0, 55.0, 300.0, 100.0)
    np.testing.assert_allclose(g.landmarks, [[160.0, 55.0]] * 5)


def test_cropper_validates_new_parameters():
    frame = natural_image(0, (40, 40))
    for kw, match in [(dict(detect_size=16), "detect_size"), (dict(detect_size=640.0), "detect_size"),
                      (dict(reuse="yes"), "reuse"), (dict(redetect_every=0), "redetect_every")]:
        with pytest.raises(ValueError, match=match):
            FaceCropper(StubDetector(FACES), **kw).crop(frame)
    FaceCropper(StubDetector(FACES), detect_size=32, redetect_every=1).crop(frame)  # the smallest valid values


# -- display geometry ----------------------------------------------------------------------------
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_transpose_matches_pillow(orientation):
    from PIL import ImageOps

    from forensics.media._faces import _exif_transpose

    img = natural_image(orientation, (30, 50))
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(_exif_transpose(img, orientation), expected)


@pytest.mark.parametrize("rotation, k", [(0, 0), (90, 1), (180, 2), (-90, -1), (270, 3), (-180, 2)])
def test_display_frame_rotation(rotation, k):
    from forensics.media import display_frame

    frame = natural_image(1, (24, 40))
    out = display_frame(frame, rotation=rotation)
    np.testing.assert_array_equal(out, np.rot90(frame, k))
    assert out.flags.c_contiguous
    if rotation == 0:
        assert out is frame  # nothing to do, no copy


@pytest.mark.parametrize("sar, shape", [(4 / 3, (30, 40)), (0.75, (40, 30)), (1.0, (30, 30)), (1.0000001, (30, 30))])
def test_display_frame_resamples_to_square_pixels(sar, shape):
    from forensics.media import display_frame

    frame = natural_image(2, (30, 30))
    out = display_frame(frame, sar=sar)
    assert out.shape[:2] == shape
    if shape != (30, 30):
        ref = cv2.resize(frame, shape[::-1], interpolation=cv2.INTER_CUBIC)
        np.testing.assert_array_equal(out, ref)
    both = display_frame(frame, rotation=90, sar=sar)  # pixels first squared, then turned
    np.testing.assert_array_equal(both, np.rot90(out, 1))


@pytest.mark.parametrize("kw", [dict(rotation=45), dict(sar=0), dict(sar=-1.0), dict(sar=float("nan"))])
def test_display_frame_refuses_bad_geometry(kw):
    from forensics.media import display_frame

    with pytest.raises(ValueError, match="rotation|sar"):
        display_frame(natural_image(0, (8, 8)), **kw)


def test_display_image_is_the_items_display_rgb_on_the_scale_of_its_rgb():
    """The face path's picture is Item.display_rgb (one converter): deeper samples on Item.rgb's scale,
    rounded; alpha dropped; an upright 8-bit RGB image a read-only view, no copy."""
    from forensics.media import Item
    from forensics.media._faces import _display_image

    rng = np.random.default_rng(0)
    u16 = rng.integers(0, 65536, (2100, 7, 3), dtype=np.uint16)
    item = Item(0, None, pixels=u16)
    rgb, orientation = _display_image(item)
    np.testing.assert_array_equal(rgb, np.clip(np.rint(item.rgb), 0, 255).astype(np.uint8))
    assert orientation == 1 and rgb.dtype == np.uint8
    f = Item(0, None, pixels=rng.random((5, 6)).astype(np.float32))  # grey floats in [0, 1]
    np.testing.assert_array_equal(_display_image(f)[0], np.clip(np.rint(f.rgb), 0, 255).astype(np.uint8))
    rgba = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    np.testing.assert_array_equal(_display_image(Item(0, None, pixels=rgba))[0], rgba[:, :, :3])
    rgb8 = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    shown = _display_image(Item(0, None, pixels=rgb8))[0]
    assert np.shares_memory(shown, rgb8) and not shown.flags.writeable  # no copy, and never written to


def test_yunet_opencv_engine_loads_without_opencvs_graph_engine_warning(yunet_path, astronaut, tmp_path, capfd):
    """OpenCV 5 logged 'setPreferableTarget Targets are not supported by the new graph engine for now' on stderr
    at every YuNet load (twice in a predict run); it is silenced there alone: the log level comes back, and a
    model OpenCV cannot load still raises."""
    level = cv2.utils.logging.getLogLevel()
    capfd.readouterr()
    det = YuNetDetector(yunet_path, engine="opencv")
    assert len(det.detect(astronaut)) >= 1 and det.engine_ == "opencv"  # it loaded and detects
    assert "setPreferableTarget" not in capfd.readouterr().err
    assert cv2.utils.logging.getLogLevel() == level  # OpenCV's other warnings still print
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ValueError, match="OpenCV could not load the YuNet model"):
        YuNetDetector(bad, engine="opencv").detect(astronaut)
    assert cv2.utils.logging.getLogLevel() == level


# -- YuNet through onnxruntime ---------------------------------------------------------------------
def test_yunet_onnxruntime_matches_opencv(yunet_path, astronaut, two_astronauts, lfw_real):
    pytest.importorskip("onnxruntime")
    ref = YuNetDetector(yunet_path, engine="opencv")
    ort = YuNetDetector(yunet_path, engine="onnxruntime")
    images = [astronaut, two_astronauts, np.full((100, 130, 3), 128, np.uint8), *lfw_real[:3]]
    for img in images:
        a, b = ref.detect(img), ort.detect(img)
        assert len(a) == len(b)
        for fa, fb in zip(a, b):
            np.testing.assert_allclose(fb.bbox, fa.bbox, atol=1e-3)
            np.testing.assert_allclose(fb.landmarks, fa.landmarks, atol=1e-3)
            assert abs(fb.score - fa.score) < 1e-5
    assert ort.engine_ == "onnxruntime" and ref.engine_ == "opencv"
    # a batch (sizes mixed: grouped by size) gives what single calls give; batch_size 2 splits 3 frames 2 + 1
    frames = [lfw_real[0], astronaut, lfw_real[1], lfw_real[2]]
    single = [ort.detect(f) for f in frames]
    for batch_size in (1, 2, 4):
        batched = YuNetDetector(yunet_path, engine="onnxruntime", batch_size=batch_size).detect_batch(frames)
        for s, b in zip(single, batched):
            assert len(s) == len(b) >= 1
            np.testing.assert_allclose([f.bbox for f in b], [f.bbox for f in s], atol=1e-3)
    clone = pickle.loads(pickle.dumps(ort))
    assert getattr(clone, "model_", None) is None and clone.detect(astronaut)[0].bbox == pytest.approx(
        ort.detect(astronaut)[0].bbox)


def test_yunet_engine_and_batch_size_are_checked(yunet_path):
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="engine"):
        YuNetDetector(yunet_path, engine="tensorrt").detect(img)
    with pytest.raises(ValueError, match="batch_size"):
        YuNetDetector(yunet_path, batch_size=0).detect(img)
    assert YuNetDetector(yunet_path, engine="auto").detect(img) == []


@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("xs, tracks", [
    ((20, 120, 220), [0, 0, 0]),  # 2.5 face sizes before any velocity is known: at the limit, same person
    ((20, 124, 224), [0, 1, 1]),  # 2.6: a new person (whose track then goes on)
    ((20, 60, 140), [0, 0, 0]),   # then 1 face size off the constant-velocity prediction (x 100): at the limit
    ((20, 60, 144), [0, 0, 1]),   # 1.1: a new person
])
def test_track_gates(reuse, xs, tracks):
    frames = []
    for x in xs:
        f = np.full((100, 400, 3), 128, np.uint8)
        f[30:70, x:x + 40] = RED
        frames.append(f)
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,)), size=16, select="all",
                                 reuse=reuse).crop_frames(enumerate(frames))
    assert [r.track_id for r in records] == tracks
    assert [r.bbox[0] for r in records] == list(xs)


@pytest.mark.parametrize("cover, detection", [(0, "near"), (8, "near"), (9, "full")])
def test_weak_or_cut_face_near_the_track_sends_back_to_the_whole_frame(cover, detection):
    """A face found near its track but scoring under 0.8x the track's mean (here: partly hidden;
    visible 32/40 = 0.8 at the limit, 31/40 below) is not trusted: the whole frame is searched."""
    frames = []
    for x in (20, 60, 100):
        f = np.full((100, 400, 3), 128, np.uint8)
        f[30:70, x:x + 40] = RED
        frames.append(f)
    frames[2][30:70, 100:100 + cover] = 128  # the left part of the face hidden
    det = ColourFaceDetector(colours=(RED,), min_visible=0.5, score_visible=True)
    crops, records = FaceCropper(det, size=16, reuse=True).crop_frames(enumerate(frames))
    assert [r.detection for r in records] == ["full", "full", detection]  # frame 1: no velocity yet, far move
    assert records[2].face_found and records[2].bbox == (100.0 + cover, 30.0, 40.0 - cover, 40.0)
    # a face crossing the edge of the search square is not trusted either
    frames[2][:] = 128
    frames[2][30:70, 130:170] = RED  # predicted centre 120: the square 70..170 cuts it within 5 px of its edge
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,), min_visible=0.5), size=16,
                                 reuse=True).crop_frames(enumerate(frames))
    assert records[2].detection == "full" and records[2].bbox == (130.0, 30.0, 40.0, 40.0)
    assert [r.track_id for r in records] == [0, 0, 0]
    frames[2][:] = 128
    frames[2][30:70, 125:165] = RED  # 5 px from the edge: trusted
    crops, records = FaceCropper(ColourFaceDetector(colours=(RED,), min_visible=0.5), size=16,
                                 reuse=True).crop_frames(enumerate(frames))
    assert records[2].detection == "near" and records[2].bbox == (125.0, 30.0, 40.0, 40.0)

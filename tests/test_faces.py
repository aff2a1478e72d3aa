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

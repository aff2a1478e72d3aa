"""Faces across a change of picture size mid-stream: one person keeps one track (the tracker's boxes are
carried into the new pixel grid), end to end on a joined MPEG-TS capture of two resolutions; and face crops
of still images whose samples are not 8-bit, on the item's 0-255 scale."""

import cv2
import numpy as np
import pandas as pd
import pytest
from test_faces import RED, ColourFaceDetector
from test_video_features import UprightFaceDetector, _upright_picture
from video_fixtures import write_video

from forensics.features import BlurFeatures, VideoFeatures
from forensics.media import FaceCropper, crop_face


def _frames(shapes, box=(60, 40, 30, 30)):
    """Grey frames of the given (H, W), a RED face at ``box`` of a 120 x 160 picture scaled to each size."""
    out = []
    for h, w in shapes:
        f = np.full((h, w, 3), 128, np.uint8)
        kx, ky = w / 160, h / 120
        x, y, bw, bh = box
        f[round(y * ky):round((y + bh) * ky), round(x * kx):round((x + bw) * kx)] = RED
        out.append(f)
    return out


@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("shapes", [
    [(120, 160)] * 4 + [(240, 320)] * 4,   # the resolution doubles (an adaptive stream switching up)
    [(240, 320)] * 4 + [(120, 160)] * 4,   # and halves
    [(120, 160)] * 4 + [(120, 214)] * 4,   # the displayed width grows (4:3 -> 16:9 pixels)
    [(120, 160)] * 8,                      # the look-alike: one size throughout
])
def test_one_person_keeps_one_track_when_the_picture_changes_size(shapes, reuse):
    frames = _frames(shapes)
    cropper = FaceCropper(ColourFaceDetector(colours=(RED,)), size=32, reuse=reuse)
    crops, records = cropper.crop_frames(enumerate(frames))
    # before: the face after the change was a new person, far from the old box in the old grid; the
    # longer-lived or larger of the two was chosen, so half the frames said "no face"
    assert [r.face_found for r in records] == [True] * 8 and len(crops) == 8
    assert {r.track_id for r in records} == {0}
    for r, (h, w) in zip(records, shapes):
        x, y, bw, bh = r.bbox  # in each frame's own pixels
        assert x == pytest.approx(60 * w / 160, abs=1) and bw == pytest.approx(30 * w / 160, abs=1)
        assert y == pytest.approx(40 * h / 120, abs=1)


def test_a_different_scene_after_a_size_change_is_still_a_new_person():
    """The boxes are scaled, not forgotten: a face elsewhere in the new picture starts its own track."""
    frames = _frames([(120, 160)] * 4) + _frames([(240, 320)] * 4, box=(10, 70, 30, 30))
    cropper = FaceCropper(ColourFaceDetector(colours=(RED,)), size=32, select="all", reuse=False)
    _, records = cropper.crop_frames(enumerate(frames))
    assert [r.track_id for r in records] == [0] * 4 + [1] * 4


def test_a_joined_capture_of_two_resolutions_has_its_face_in_every_frame(tmp_path):
    small = _upright_picture(96, 128)
    large = cv2.resize(small, (256, 192), interpolation=cv2.INTER_NEAREST)
    parts = [write_video(tmp_path / "a.ts", [small] * 6, crf=12), write_video(tmp_path / "b.ts", [large] * 6, crf=12)]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(parts[0].read_bytes() + parts[1].read_bytes())
    vf = VideoFeatures(BlurFeatures(), n_frames=12, detector=UprightFaceDetector(), size=32).fit()
    X = vf.transform([str(joined)])
    rec = vf.records_
    assert rec["face_found"].tolist() == [True] * 12 and rec["track_id"].nunique() == 1  # frames 0-5 had none
    assert X[0, -1] == 1.0
    assert rec["bbox"].iloc[0] == pytest.approx((52, 20, 24, 52), abs=2)
    assert rec["bbox"].iloc[-1] == pytest.approx((104, 40, 48, 104), abs=3)


# -- still images of deeper samples through the face path (round 10) --------------------------------
def _pnm(arr, maxval):
    """Binary PPM/PGM of ``arr`` (rows, cols[, 3]) at ``maxval``: one byte per sample up to 255, two above."""
    magic = b"P6" if arr.ndim == 3 else b"P5"
    body = arr.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    return magic + b"\n%d %d\n%d\n" % (arr.shape[1], arr.shape[0], maxval) + body


@pytest.mark.parametrize("name, maxval", [("twelve.ppm", 4095), ("thousand.ppm", 1000), ("hundred.ppm", 100),
                                          ("sixteen.png", 65535), ("eight.png", 255)])
def test_face_crops_of_images_of_any_full_scale_are_on_the_items_scale(tmp_path, name, maxval):
    """A face crop of a still image is on the 0-255 scale of ``Item.rgb``, whatever the file's full-scale
    value (``Item.white``): a 12-bit PPM (maxval 4095), maxval 1000, and an 8-bit container at maxval 100.
    Before, the face path divided every 16-bit sample by 257 and took 8-bit samples as they were: the
    12-bit picture came out 16 times too dark, maxval 1000 at 1/65 and maxval 100 at 0.4 of its brightness
    (measured with YuNet on scikit-image's astronaut: the 12-bit PGM's crop peaked at 16 of 255, the
    maxval-1000 one was 'no_face'). Look-alikes: a 16-bit PNG (white 65535, x / 257) and an 8-bit PNG, whose
    crops were right already."""
    from PIL import Image

    from forensics.datasets import extract_faces
    from forensics.media import load_item
    from forensics.media._faces import _display_image

    picture = _frames([(120, 160)])[0]
    picture[::2, ::3] = picture[::2, ::3] // 2 + 40  # not flat: rounding of every sample matters
    samples = np.round(picture.astype(np.float64) * maxval / 255)
    path = tmp_path / name
    if name.endswith(".png"):  # OpenCV writes 16-bit PNGs (BGR order)
        cv2.imwrite(str(path), samples.astype(np.uint16 if maxval > 255 else np.uint8)[:, :, ::-1])
    else:
        path.write_bytes(_pnm(samples, maxval))
    item = load_item(str(path))
    assert item.white == maxval
    shown, orientation = _display_image(item)
    expected = np.rint(item.rgb).astype(np.uint8)  # the scale every feature reads
    np.testing.assert_array_equal(shown, expected)
    assert orientation == 1 and np.abs(shown.astype(int) - picture).max() <= 1
    manifest = pd.DataFrame({"path": [str(path)], "label": [0], "method": ["real"]})
    res = extract_faces(manifest, tmp_path / "out", detector=ColourFaceDetector(colours=(RED,)), size=32,
                        progress=False)
    assert res.status["status"].tolist() == ["ok"]
    crop = np.asarray(Image.open(tmp_path / "out" / res.crops["crop_path"].iloc[0]))
    bbox = tuple(float(res.crops[k].iloc[0]) for k in ("x", "y", "w", "h"))
    assert bbox == (60.0, 40.0, 30.0, 30.0)
    np.testing.assert_array_equal(crop, crop_face(expected, bbox, size=32)[0])

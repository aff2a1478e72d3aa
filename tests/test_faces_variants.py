"""Faces across a change of picture size mid-stream: one person keeps one track (the tracker's boxes are
carried into the new pixel grid), end to end on a joined MPEG-TS capture of two resolutions."""

import cv2
import numpy as np
import pytest
from test_faces import RED, ColourFaceDetector
from test_video_features import UprightFaceDetector, _upright_picture
from video_fixtures import write_video

from forensics.features import BlurFeatures, VideoFeatures
from forensics.media import FaceCropper


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

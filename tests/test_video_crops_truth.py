"""Face crops and frame tables of videos, against what the file holds (round 9 variants).

Each row of a crop table or a frame-level table carries its frame's presentation time (``time_s``)
and the display transform applied to that frame; faces are found and boxed in the displayed
picture when a clip is both anamorphic and turned by its display matrix, and when the container's
aspect ratio is invalid beside a rotation. The detector is ``UprightFaceDetector`` (model-free: it
finds its 'face' only in a picture shown upright with square pixels, as a real detector would), so
a wrong geometry shows as a face not found or a box elsewhere.
"""

import struct
from fractions import Fraction

import cv2
import numpy as np
import pandas as pd
import pytest
from test_video_features import UprightFaceDetector, _upright_picture
from video_fixtures import orient_frames, write_video

from forensics.datasets import extract_faces
from forensics.features import BlurFeatures, VideoFeatures
from forensics.media import read_frames

#: where _upright_picture draws its face (display pixels): x, y of the red square, side, height of both squares
BOX = (52, 20, 24, 52)

#: presentation times (ms) of a variable-frame-rate clip: 5 fps, then 50 fps (a phone that sped up)
VFR_MS = [0, 200, 400, 600, 620, 640, 660, 680]


def _vfr_clip(path, picture):
    return write_video(path, [picture] * len(VFR_MS), crf=12, pts=VFR_MS, time_base=Fraction(1, 1000))


def _box_ok(bbox, box=BOX, tol=3):
    x, y, w, h = bbox
    return abs(x - box[0]) <= tol and abs(y - box[1]) <= tol and abs(h - box[3]) <= tol + 1


# -- the frame's time in every crop row ---------------------------------------------------------------
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_each_crop_row_carries_its_frames_presentation_time(tmp_path, ext):
    """A variable-frame-rate clip (200 ms then 20 ms between frames): every crop and record row of
    extract_faces gives the time its frame is shown, the timestamps written (before, the crop table
    had no time column: a VFR frame's time could only be guessed as frame_index / fps, 0.4 s for
    frame 5 shown at 0.64 s). Look-alikes: a constant-rate clip's rows are k / fps; a still image
    has no timeline (NaN)."""
    picture = _upright_picture()
    vfr = _vfr_clip(tmp_path / f"vfr{ext}", picture)
    cfr = write_video(tmp_path / f"cfr{ext}", [picture] * 4, fps=10, crf=12)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    m = pd.DataFrame(dict(path=[str(vfr), str(cfr), str(still)], label=[0, 1, 0], method="m"))
    res = extract_faces(m, tmp_path / "out", detector=UprightFaceDetector(), every=1, size=32, progress=False)
    assert res.records["face_found"].all() and res.status["status"].tolist() == ["ok"] * 3
    crops = res.crops
    rows = crops[crops["path"] == str(vfr)]
    assert rows["frame_index"].tolist() == list(range(8))
    np.testing.assert_allclose(rows["time_s"], np.array(VFR_MS) / 1000, atol=1e-9)
    np.testing.assert_allclose(crops.loc[crops["path"] == str(cfr), "time_s"], [0.0, 0.1, 0.2, 0.3], atol=1e-9)
    assert np.isnan(crops.loc[crops["path"] == str(still), "time_s"]).all()
    assert res.records["time_s"].tolist()[:8] == rows["time_s"].tolist()
    on_disk = pd.read_csv(tmp_path / "out" / "crops.csv")  # the column is written too, beside frame_index
    assert list(on_disk.columns[on_disk.columns.get_loc("frame_index"):][:2]) == ["frame_index", "time_s"]
    np.testing.assert_allclose(on_disk["time_s"], crops["time_s"], equal_nan=True)


def test_sampled_crop_rows_of_a_vfr_clip_are_timed_by_their_own_frames(tmp_path):
    """n_frames sampling over a VFR clip: the sampled frames 0, 2, 5, 7 carry 0, 0.4, 0.64 and 0.68 s
    (not their index over the mean rate); VideoFeatures.transform_frames gives the same times per row."""
    vfr = _vfr_clip(tmp_path / "vfr.mkv", _upright_picture())
    res = extract_faces(pd.DataFrame(dict(path=[str(vfr)], label=0, method="m")), tmp_path / "out",
                        detector=UprightFaceDetector(), n_frames=4, size=32, progress=False)
    assert res.crops["frame_index"].tolist() == [0, 2, 5, 7]
    np.testing.assert_allclose(res.crops["time_s"], [0.0, 0.4, 0.64, 0.68], atol=1e-9)
    vf = VideoFeatures(BlurFeatures(), n_frames=4, detector=UprightFaceDetector(), size=32).fit()
    _, meta = vf.transform_frames([str(vfr)])
    assert meta.columns.tolist() == ["video", "source", "frame_index", "time_s", "face_index", "track_id"]
    assert meta["frame_index"].tolist() == [0, 2, 5, 7] and meta["time_s"].dtype == np.float64
    np.testing.assert_allclose(meta["time_s"], [0.0, 0.4, 0.64, 0.68], atol=1e-9)
    whole = VideoFeatures(BlurFeatures(), n_frames=4, faces=False).fit()  # whole frames: the same times
    np.testing.assert_allclose(whole.transform_frames([str(vfr)])[1]["time_s"], [0.0, 0.4, 0.64, 0.68], atol=1e-9)


def test_frame_level_feature_table_carries_each_frames_time(tmp_path):
    """forensics extract --level frame of videos: each row's time_s is its frame's presentation time (VFR
    clip: 0, 0.4, 0.64, 0.68 s), NaN for an unreadable video's row; a manifest column named time_s would be
    overwritten and is refused at frame level, while at video level it is the manifest's own column."""
    from forensics import extract_table, read_table
    from forensics.cli import main

    for label in ("real", "fake"):
        (tmp_path / "d" / label).mkdir(parents=True)
    _vfr_clip(tmp_path / "d" / "real" / "vfr.mkv", _upright_picture())
    (tmp_path / "d" / "fake" / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(64))
    assert main(["extract", str(tmp_path / "d"), "--out", str(tmp_path / "t.parquet"), "--features", "blur",
                 "--n-frames", "4", "--level", "frame", "--no-progress", "--no-audit"]) == 0
    data = read_table(tmp_path / "t.parquet").data
    cols = data.columns.tolist()
    assert cols[cols.index("frame_index"):cols.index("frame_index") + 3] == ["frame_index", "time_s", "face_index"]
    good = data[data["path"].str.endswith("vfr.mkv")]
    np.testing.assert_allclose(good["time_s"], [0.0, 0.4, 0.64, 0.68], atol=1e-9)
    bad = data[data["path"].str.endswith("broken.mkv")]
    assert bad["status"].tolist() == ["error"] and np.isnan(bad["time_s"]).all()
    m = pd.DataFrame(dict(path=[str(tmp_path / "d" / "real" / "vfr.mkv")], label=0, kind="video", time_s=[9.0]))
    with pytest.raises(ValueError, match="a column named 'time_s'"):
        extract_table(m, features="blur", n_frames=2, level="frame")
    video = extract_table(m, features="blur", n_frames=2, level="video")
    assert video.data["time_s"].tolist() == [9.0]


# -- the display transform of each frame ----------------------------------------------------------------
@pytest.mark.parametrize("hflip", [False, True])
def test_each_crop_row_records_the_transform_of_its_own_frame(tmp_path, hflip):
    """Frames 3 to 5 are stored sideways (and mirrored) with a display orientation of their own (an H.264
    SEI, as a camera turned mid-recording writes); frames 0 to 2 are upright. The face is found upright in
    all six, and each crop row and VideoFeatures record gives the rotation and mirror applied to its frame
    (before, every row gave the first frame's: 0, no mirror). Look-alike: the frames without a turn say 0."""
    upright = _upright_picture(96, 96)
    turned = np.rot90(upright, -1)  # display = rot90(coded flipped, 1): H.264 D.2.27, flipped first, then turned
    sideways = np.ascontiguousarray(turned[:, ::-1] if hflip else turned)
    src = write_video(tmp_path / "v.mkv", [upright] * 3 + [sideways] * 3, gop=1, crf=12)
    path = orient_frames(src, tmp_path / "turning.mkv", {k: (90, hflip) for k in (3, 4, 5)})
    r = read_frames(path, every=1)
    turns, flips = r.rotations.tolist(), r.mirrors.tolist()
    assert turns[:3] == [0, 0, 0] and turns[3] in (90, -90) and turns[3:] == [turns[3]] * 3
    assert flips == [False] * 3 + [hflip] * 3
    res = extract_faces(pd.DataFrame(dict(path=[str(path)], label=0, method="m")), tmp_path / "out",
                        detector=UprightFaceDetector(), every=1, size=32, progress=False)
    assert res.records["face_found"].all() and res.crops["rotation"].tolist() == turns
    assert res.crops["mirror"].tolist() == flips
    assert res.status[["rotation", "mirror"]].values.tolist() == [[0, False]]  # the status: the first frame's
    assert all(_box_ok(b) for b in res.crops[["x", "y", "w", "h"]].to_numpy())
    vf = VideoFeatures(BlurFeatures(), every=1, detector=UprightFaceDetector(), size=32).fit()
    vf.transform([str(path)])
    assert vf.records_["face_found"].all() and vf.records_["rotation"].tolist() == turns
    assert vf.records_["mirror"].tolist() == flips


# -- anamorphic and rotated -----------------------------------------------------------------------------
def _anamorphic_turned(path, rotation, sar=Fraction(4, 3), pasp=None):
    """A clip that shows ``_upright_picture()`` (128 x 96) upright after its display rotation and its pixel
    aspect ratio: the coded frame is the picture turned back and squeezed across its coded width by ``sar``.
    ``pasp``: the MP4 pasp box's two fields patched to these values (the codec's ratio stays ``sar``)."""
    turned = np.ascontiguousarray(np.rot90(_upright_picture(), -(rotation // 90)))
    h, w = turned.shape[:2]
    coded = cv2.resize(turned, (round(w / sar), h), interpolation=cv2.INTER_AREA)
    write_video(path, [coded] * 4, crf=12, rotation=rotation or None, sample_aspect_ratio=sar)
    if pasp is not None:
        data = bytearray(path.read_bytes())
        at = data.find(b"pasp")
        data[at + 4:at + 12] = struct.pack(">II", *pasp)
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_faces_of_an_anamorphic_turned_clip_are_boxed_in_the_displayed_picture(tmp_path, rotation):
    """4:3 pixels and a display rotation together (the coded width is squeezed, then the frame is turned):
    pixels are made square across the coded width before the turn, so the face is found upright with its
    shape, boxed where a viewer sees it, and the rows say both transforms. Look-alike: the same coded frames
    without the aspect ratio are squeezed as displayed, and the detector finds nothing."""
    path = _anamorphic_turned(tmp_path / "both.mp4", rotation)
    plain = tmp_path / "plain.mp4"
    write_video(plain, read_frames(path, n=4, display=False).frames, crf=12, rotation=rotation)
    res = extract_faces(pd.DataFrame(dict(path=[str(path), str(plain)], label=0, method="m")), tmp_path / "out",
                        detector=UprightFaceDetector(), n_frames=2, size=32, progress=False)
    assert res.status["status"].tolist() == ["ok", "no_face"]
    rows = res.crops
    assert len(rows) == 2 and all(_box_ok(b) for b in rows[["x", "y", "w", "h"]].to_numpy())
    assert rows["rotation"].tolist() == [rotation] * 2 and rows["sar"].tolist() == [pytest.approx(4 / 3)] * 2
    vf = VideoFeatures(BlurFeatures(), n_frames=2, detector=UprightFaceDetector(), size=32).fit()
    vf.transform([str(path)])
    assert vf.records_["face_found"].all() and all(_box_ok(b) for b in vf.records_["bbox"])


@pytest.mark.parametrize("pasp,status", [((1000, 1), "partial"), ((4, 3), "ok"), ((1, 1), "no_face")])
def test_an_invalid_container_ratio_beside_a_rotation_keeps_the_codecs_ratio(tmp_path, pasp, status):
    """A turned anamorphic clip whose MP4 pasp box is invalid for its coded size (1000:1 scales its 128 coded
    rows below one pixel, FFmpeg's av_image_check_sar): the box is ignored for the codec's 4:3, checked on
    the coded frame before the turn, so the face is still found upright and boxed as displayed; the item is
    partial with the reason. Look-alikes: a valid pasp of 4:3 is ok; a valid 1:1 box (square pixels, as the
    container says) leaves the picture squeezed, and the detector finds nothing."""
    path = _anamorphic_turned(tmp_path / "box.mp4", 90, pasp=pasp)
    res = extract_faces(pd.DataFrame(dict(path=[str(path)], label=0, method="m")), tmp_path / "out",
                        detector=UprightFaceDetector(), n_frames=2, size=32, progress=False)
    assert res.status["status"].tolist() == [status]
    note = "sample aspect ratio 1000:1 is invalid for 72x128 frames"
    assert (note in res.status["error"][0]) == (status == "partial")
    if status != "no_face":
        assert all(_box_ok(b) for b in res.crops[["x", "y", "w", "h"]].to_numpy())
        assert res.crops["rotation"].tolist() == [90, 90] and res.crops["sar"].tolist() == [pytest.approx(4 / 3)] * 2


# -- the crop square in the tables ---------------------------------------------------------------------
@pytest.mark.parametrize("margin, shifted", [(1.8, True), (1.3, False)])
def test_crop_tables_give_the_crop_square_so_a_crop_can_be_rebuilt(tmp_path, margin, shifted):
    """The crop tables give the crop square, not only the face box and the side: with margin 1.8 the
    square around the face (centre y 46, side 94) crosses the top border and is shifted down inside
    the 96x128 frame, so it could not be rebuilt from the face box and side (before, crops.csv had
    no corner). Every crop equals ``frame[box_y:box_y + box_side, box_x:box_x + box_side]`` resized;
    look-alike: margin 1.3, a square that fits, centred on the face."""
    from forensics.media import square_box

    picture = _upright_picture()
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    clip = write_video(tmp_path / "clip.mp4", [picture] * 3, fps=10, crf=12)
    m = pd.DataFrame(dict(path=[str(still), str(clip)], label=[0, 1], method="m"))
    res = extract_faces(m, tmp_path / "out", detector=UprightFaceDetector(), every=1, size=32, margin=margin,
                        progress=False)
    crops = pd.read_csv(tmp_path / "out" / "crops.csv")
    assert len(crops) == 4 and crops[["box_x", "box_y", "box_side"]].notna().all().all()
    frames = {str(still): [picture], str(clip): [f for f in read_frames(clip, every=1).frames]}
    for row in crops.itertuples():
        x0, y0, side = int(row.box_x), int(row.box_y), int(row.box_side)
        assert (x0, y0, side, side) == square_box((row.x, row.y, row.w, row.h), margin=margin, frame_shape=(96, 128))
        assert (y0 == 0 and row.y + row.h / 2 - side / 2 < 0) == shifted  # moved inside, not centred
        frame = frames[row.path][row.frame_index]
        rebuilt = cv2.resize(frame[y0:y0 + side, x0:x0 + side], (32, 32), interpolation=cv2.INTER_AREA)
        stored = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / row.crop_path)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(stored, rebuilt)
    faceless = res.records[~res.records["face_found"]]
    assert faceless.empty or faceless[["box_x", "box_y", "box_side"]].isna().all().all()
    vf = VideoFeatures(BlurFeatures(), detector=UprightFaceDetector(), every=1, size=32, margin=margin).fit()
    vf.transform([str(clip)])
    assert all(tuple(b) == square_box(bb, margin=margin, frame_shape=(96, 128))
               for b, bb in zip(vf.records_["box"], vf.records_["bbox"]))
    assert len(vf.records_) == 3 and vf.records_.columns.get_loc("box") == vf.records_.columns.get_loc("bbox") + 1


def test_records_without_a_face_have_no_crop_square(tmp_path):
    """A frame without a face has no crop square: NaN in crops.csv's records, None in records_."""
    blank = np.full((96, 128, 3), 128, np.uint8)
    clip = write_video(tmp_path / "blank.mp4", [blank] * 2, fps=10, crf=12)
    m = pd.DataFrame(dict(path=[str(clip)], label=[0], method="m"))
    res = extract_faces(m, tmp_path / "out", detector=UprightFaceDetector(), every=1, size=32, progress=False)
    assert (~res.records["face_found"]).all() and res.records[["box_x", "box_y", "box_side"]].isna().all().all()
    vf = VideoFeatures(BlurFeatures(), detector=UprightFaceDetector(), every=1, size=32, no_face="nan").fit()
    with pytest.warns(RuntimeWarning, match="no face in any sampled frame"):
        vf.transform([str(clip)])
    assert vf.records_["box"].tolist() == [None, None]

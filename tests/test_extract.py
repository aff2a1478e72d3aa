import filecmp

import numpy as np
import pandas as pd
import pytest

from conftest import encode, natural_image
from forensics.datasets import extract_faces
from forensics.features import BlurFeatures
from test_video_features import KnownBoxDetector, _video


class InterruptingDetector(KnownBoxDetector):
    """Stops the run (like Ctrl-C) at its n-th call."""

    def __init__(self, stop_at):
        super().__init__()
        self.stop_at = stop_at
        self.calls = 0

    def detect(self, rgb):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().detect(rgb)


class CountingDetector(KnownBoxDetector):
    calls = 0

    def detect(self, rgb):
        CountingDetector.calls += 1
        return super().detect(rgb)


@pytest.fixture
def manifest(tmp_path):
    rows = []
    (tmp_path / "videos").mkdir()
    for k in range(4):
        path = _video(tmp_path / "videos" / f"v{k}.mp4", n=6, seed=k, dark=(2,) if k == 3 else ())
        rows.append(dict(path=path, label=k % 2, method="real" if k % 2 == 0 else "swap", group=k))
    image = tmp_path / "videos" / "still.png"
    image.write_bytes(encode(natural_image(0, (144, 160)), "PNG"))
    rows.append(dict(path=str(image), label=0, method="real", group=9))
    return pd.DataFrame(rows)


def test_crops_records_and_report(manifest, tmp_path):
    res = extract_faces(manifest, tmp_path / "out", detector=KnownBoxDetector(), n_frames=3, size=48,
                        features=BlurFeatures(), progress=False)
    # 4 videos x 3 sampled frames (+1 image); video 3 has a dark frame 2 among its samples? frames 0, 2|3, 5
    assert len(res.records) == 13
    assert res.records["face_found"].sum() == len(res.crops) == (res.records["crop_path"] != "").sum()
    for rel in res.crops["crop_path"]:
        assert (tmp_path / "out" / rel).is_file()
    assert list(res.crops.columns[:4]) == ["path", "label", "method", "group"]
    table = pd.read_csv(tmp_path / "out" / "features.csv")
    assert len(table) == len(res.crops) and "blur__tenengrad__log" in table.columns
    rep = res.report
    assert rep.n_items == 5 and rep.n_frames == 13 and rep.class_balance == {0: 3, 1: 2}
    assert set(rep.face_rate.index) >= {"label=0", "label=1", "method=real", "method=swap"}
    assert (tmp_path / "out" / "report.txt").read_text().startswith("5 items")


def test_low_face_rate_is_warned(tmp_path):
    rows = [dict(path=_video(tmp_path / f"d{k}.mp4", n=4, seed=k, dark=(0, 1, 2)), label=k % 2,
                 method="m", group=k) for k in range(2)]
    rep = extract_faces(pd.DataFrame(rows), tmp_path / "out", detector=KnownBoxDetector(), n_frames=4, size=32,
                        progress=False).report
    assert any("face-found rate 25.0%" in w for w in rep.warnings)


def test_interrupted_run_resumes_with_identical_output(manifest, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        extract_faces(manifest, tmp_path / "resumed", detector=InterruptingDetector(stop_at=8), n_frames=3, size=48,
                      progress=False)
    done_before = sorted(p.name for p in (tmp_path / "resumed" / "done").iterdir())
    assert len(done_before) == 2  # items 0 and 1 finished (6 frames), item 2 was cut at its 2nd frame
    CountingDetector.calls = 0
    resumed = extract_faces(manifest, tmp_path / "resumed", detector=CountingDetector(), n_frames=3, size=48,
                            progress=False)
    assert CountingDetector.calls == 3 + 3 + 1  # only the unfinished items are processed again
    fresh = extract_faces(manifest, tmp_path / "fresh", detector=KnownBoxDetector(), n_frames=3, size=48,
                          progress=False)
    for name in ("crops.csv", "records.csv", "report.txt"):
        assert filecmp.cmp(tmp_path / "resumed" / name, tmp_path / "fresh" / name, shallow=False), name
    pd.testing.assert_frame_equal(resumed.crops, fresh.crops)
    for rel in fresh.crops["crop_path"]:
        assert (tmp_path / "resumed" / rel).read_bytes() == (tmp_path / "fresh" / rel).read_bytes()
    n_files = sum(1 for p in (tmp_path / "resumed" / "crops").rglob("*.png"))
    assert n_files == len(fresh.crops)  # nothing duplicated


def test_missing_columns_and_bad_items(tmp_path, manifest):
    with pytest.raises(ValueError, match="'method'"):
        extract_faces(manifest.drop(columns="method"), tmp_path / "o", detector=KnownBoxDetector())
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    m = pd.concat([manifest, pd.DataFrame([dict(path=str(broken), label=1, method="swap", group=7)])],
                  ignore_index=True)
    res = extract_faces(m, tmp_path / "o", detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    assert any("could not be fully decoded" in w and "broken.mp4" in w for w in res.report.warnings)
    assert np.isin(res.crops["path"], [str(broken)]).sum() == 0

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


def test_an_item_whose_file_was_missing_is_cropped_by_the_run_that_finds_it(manifest, tmp_path):
    """A listed file that is not there yet (DFDC's metadata.json keeps such rows) got a done marker
    with status error, so every later run kept "file not found" for it, the file there or not, and
    said its crops were taken as already extracted. The look-alike, an unreadable file that is
    there, stays done (the rerun does not read it again)."""
    late = tmp_path / "videos" / "late.mp4"
    broken = tmp_path / "videos" / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    m = pd.concat([manifest, pd.DataFrame([dict(path=str(late), label=1, method="swap", group=8),
                                           dict(path=str(broken), label=1, method="swap", group=7)])],
                  ignore_index=True)
    first = extract_faces(m, tmp_path / "out", detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    assert first.status["status"].tolist()[-2:] == ["error", "error"]
    assert first.status["error"].iloc[-2] == "file not found"
    again = extract_faces(m, tmp_path / "out", detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    assert again.n_reused == len(m) and again.status["error"].iloc[-2] == "file not found"  # still missing
    _video(late, n=6, seed=1)  # the file arrives
    CountingDetector.calls = 0
    found = extract_faces(m, tmp_path / "out", detector=CountingDetector(), n_frames=3, size=48, progress=False)
    assert CountingDetector.calls == 3 and found.n_reused == len(m) - 1  # only it is cropped, not broken.mp4
    assert found.status["status"].tolist()[-2:] == ["ok", "error"]
    assert (found.crops["path"] == str(late)).sum() == 3
    fresh = extract_faces(m, tmp_path / "fresh", detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    pd.testing.assert_frame_equal(found.crops, fresh.crops)
    assert extract_faces(m, tmp_path / "out", detector=CountingDetector(), n_frames=3,
                         size=48, progress=False).n_reused == len(m)  # then it is done


def test_a_rerun_with_the_manifest_reordered_or_relabelled_joins_each_crop_to_its_own_row(manifest, tmp_path):
    """The crops of a finished run are kept; a rerun given the same items in another order joined each
    crop to the columns of the row that had its place before (every group wrong), and a relabelled item kept
    its old label and method. Now the outputs are those of a fresh run on the manifest given."""
    out = tmp_path / "cache"
    extract_faces(manifest, out, detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    changed = manifest.iloc[::-1].reset_index(drop=True)
    changed.loc[changed["group"] == 2, ["label", "method"]] = [1, "swap"]  # an item relabelled
    CountingDetector.calls = 0
    rerun = extract_faces(changed, out, detector=CountingDetector(), n_frames=3, size=48, progress=False)
    assert CountingDetector.calls == 0  # nothing extracted again
    fresh = extract_faces(changed, tmp_path / "fresh", detector=KnownBoxDetector(), n_frames=3, size=48,
                          progress=False)
    pd.testing.assert_frame_equal(rerun.crops, fresh.crops)
    pd.testing.assert_frame_equal(rerun.records, fresh.records)
    for name in ("crops.csv", "records.csv", "report.txt"):
        assert filecmp.cmp(out / name, tmp_path / "fresh" / name, shallow=False), name
    by_path = changed.set_index("path")
    for column in ("group", "label", "method"):
        assert rerun.crops[column].tolist() == by_path.loc[rerun.crops["path"], column].tolist()
    assert rerun.report.class_balance == {0: 2, 1: 3}


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


# -- display geometry, status, memory ---------------------------------------------------------------
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from PIL import Image  # noqa: E402

from test_video_features import UprightFaceDetector, _upright_picture  # noqa: E402
from video_fixtures import write_video  # noqa: E402

_INVERSE = {6: 8, 8: 6}


def _jpeg_with_orientation(path, upright, orientation):
    from forensics.media._faces import _exif_transpose

    stored = np.ascontiguousarray(_exif_transpose(upright, _INVERSE.get(orientation, orientation)))
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return str(path)


def test_geometry_is_recorded_and_applied(tmp_path):
    upright = _upright_picture()
    rows = [dict(path=_jpeg_with_orientation(tmp_path / f"o{o}.jpg", upright, o), label=0, method="img", group=o)
            for o in (1, 3, 6, 8)]
    rows.append(dict(path=str(write_video(tmp_path / "turned.mp4", [np.ascontiguousarray(np.rot90(upright, -1))] * 4,
                                          crf=12, rotation=90)), label=1, method="vid", group=9))
    res = extract_faces(pd.DataFrame(rows), tmp_path / "out", detector=UprightFaceDetector(), n_frames=2, size=32,
                        progress=False)
    assert res.records["face_found"].all() and len(res.crops) == 4 + 2  # every picture seen upright
    assert res.crops["orientation"].tolist() == [1, 3, 6, 8, 1, 1]
    assert res.crops["rotation"].tolist() == [0, 0, 0, 0, 90, 90]
    assert res.crops["sar"].tolist() == [1.0] * 6 and res.crops["track_id"].tolist() == [0] * 6
    assert {"detection", "track_id", "rotation", "orientation", "sar"} <= set(pd.read_csv(tmp_path / "out" /
                                                                                          "crops.csv").columns)
    assert res.status[["row", "status", "orientation", "rotation"]].values.tolist() == [
        [0, "ok", 1, 0], [1, "ok", 3, 0], [2, "ok", 6, 0], [3, "ok", 8, 0], [4, "ok", 1, 90]]
    for rel in res.crops["crop_path"][:4]:  # the crops show the face upright
        crop = np.asarray(Image.open(tmp_path / "out" / rel).convert("RGB"))
        assert UprightFaceDetector().detect(crop)


def test_item_without_any_face_has_status_no_face(manifest, tmp_path):
    m = manifest.iloc[[0, 4]].reset_index(drop=True)  # a video and a still image
    res = extract_faces(m, tmp_path / "out", detector=UprightFaceDetector(), n_frames=2, size=32, progress=False)
    assert res.status["status"].tolist() == ["no_face", "no_face"]
    assert res.status["error"].tolist() == ["no face found in any of the 2 sampled frames",
                                            "no face found in any of the 1 sampled frames"]
    assert any("2 items have no face" in w for w in res.report.warnings)
    assert not any("could not be fully decoded" in w for w in res.report.warnings)


def test_crop_features_are_computed_per_item_batch(manifest, tmp_path):
    from test_video_features import CountingBlur

    CountingBlur.batches = []
    res = extract_faces(manifest.iloc[[0, 1]], tmp_path / "out", detector=KnownBoxDetector(), n_frames=4, size=48,
                        features=CountingBlur(), progress=False)
    assert CountingBlur.batches == [3, 1, 3, 1]  # per item: its 4 crops in chunks of the batch size 3
    table = pd.read_csv(tmp_path / "out" / "features.csv")
    for rel, (_, row) in zip(res.crops["crop_path"], table.iterrows()):
        crop = np.asarray(Image.open(tmp_path / "out" / rel))
        expected = BlurFeatures().extract_one(crop)
        np.testing.assert_allclose([row[k] for k in expected], list(expected.values()), rtol=1e-9)


_MEMORY_SCRIPT = textwrap.dedent("""
    import json, os, resource, sys
    import cv2, numpy as np, pandas as pd
    cv2.setNumThreads(1)
    from forensics.datasets import extract_faces
    from forensics.media import Face

    class Centre:
        def detect(self, rgb):
            h, w = rgb.shape[:2]
            return [Face((0.4 * w, 0.4 * h, 0.2 * w, 0.2 * h), 0.9)]

    big, small, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    run = lambda p, d: extract_faces(pd.DataFrame([dict(path=p, label=0, method="m")]), os.path.join(out, d),
                                     detector=Centre(), size=64, progress=False)
    report = lambda res, **kw: dict(status=res.status["status"][0], error=res.status["error"][0],
                                    crops=len(res.crops), **kw)
    run(small, "warm")  # imports, caches and code paths warmed on a small image
    vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + limit, resource.RLIM_INFINITY))
    limited = report(run(big, "limited"))
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    status = lambda key: int([l for l in open("/proc/self/status") if l.startswith(key)][0].split()[1]) * 1024
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident size (VmHWM) to the current one
    base = status("VmRSS")
    res = run(big, "free")
    free = report(res, grew=status("VmHWM") - base)
    print(json.dumps(dict(free=free, limited=limited)))
""")

_H, _W = 3000, 4000  # 12 megapixels: each decoded copy (36 MB) is above glibc's largest heap threshold (32 MB),
# so it needs new address space and RLIMIT_AS bites whatever the heap kept from earlier work


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc and sets RLIMIT_AS (Linux)")
    tmp = tmp_path_factory.mktemp("memory")
    x = (np.arange(_W, dtype=np.uint32) * 255 // _W).astype(np.uint8)
    y = (np.arange(_H, dtype=np.uint32) * 255 // _H).astype(np.uint8)
    img = np.empty((_H, _W, 3), np.uint8)
    img[:, :, 0], img[:, :, 1], img[:, :, 2] = x[None, :], y[:, None], x[None, ::-1]
    big, small = tmp / "big.png", tmp / "small.png"
    cv2.imwrite(str(big), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    cv2.imwrite(str(small), img[:300, :400])
    del img
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    limit = 2 * _H * _W  # 2 bytes per pixel: the decode cannot fit
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(big), str(small), str(tmp), str(limit)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


import cv2  # noqa: E402


def test_large_image_costs_a_few_bytes_per_pixel(memory_run):
    out = memory_run["free"]
    assert out["status"] == "ok" and out["crops"] == 1
    # decode (3 bytes/pixel in BGR, then RGB) + the downscaled copy; the old path (float32 RGB,
    # rounded, clipped, and a detector on the full picture) took ~50-100 bytes per pixel
    assert out["grew"] / (_H * _W) < 10, out


def test_allocation_failure_is_the_items_error(memory_run):
    out = memory_run["limited"]
    assert out["status"] == "error" and out["crops"] == 0
    assert "memory" in out["error"].lower(), out


def test_a_manifest_path_with_undecodable_bytes_is_read_and_named_printably(tmp_path):
    """A hand-built manifest (object column) naming a file in Latin-1 on a UTF-8 system: the
    path holds lone surrogates, which a CSV table cannot store, so extract_faces used to crash
    building the item's key. The file is read; the tables name it with the bytes escaped (as
    load_item's errors do), the crop folder's name reads '_' for them; a missing such file is a
    per-row error naming it escaped. Look-alike: the valid non-ASCII name 'café' keeps its
    name in the tables and the key it always had."""
    from forensics.datasets._extract import _key

    folder = os.fsencode(str(tmp_path / "v"))
    os.makedirs(folder)
    raw = os.fsdecode(folder + b"/caf\xe9.mp4")
    try:
        _video(raw, n=4, seed=1)
    except OSError:  # pragma: no cover - a file system that refuses such names
        pytest.skip("this file system refuses names that are not valid UTF-8")
    image = os.fsdecode(folder + b"/im\xe9.png")
    Path(image).write_bytes(encode(natural_image(0, (144, 160)), "PNG"))
    valid = _video(tmp_path / "v" / "café.mp4", n=4, seed=1)
    gone = os.fsdecode(folder + b"/gone\xe9.mp4")
    paths = pd.Series([raw, image, valid, gone], dtype=object)  # a pandas 3 string column cannot hold them
    m = pd.DataFrame(dict(path=paths, label=[1, 0, 0, 1], method=["m", "r", "r", "m"]))
    res = extract_faces(m, tmp_path / "out", detector=KnownBoxDetector(), n_frames=2, size=32, progress=False)
    shown = [str(tmp_path / "v" / "caf\\udce9.mp4"), str(tmp_path / "v" / "im\\udce9.png"), valid,
             str(tmp_path / "v" / "gone\\udce9.mp4")]
    assert res.status["path"].tolist() == shown
    assert res.status["status"].tolist() == ["ok", "ok", "ok", "error"]
    assert res.status["error"].iloc[3] == "file not found"
    assert res.crops["path"].tolist() == [shown[0]] * 2 + [shown[1]] + [valid] * 2
    assert res.crops["crop_path"].iloc[0].startswith("crops/caf_-")
    for rel in res.crops["crop_path"]:
        assert (tmp_path / "out" / rel).is_file()
    # the same frames under the two names: the same crops
    a, b = (res.crops[res.crops["path"] == p]["crop_path"] for p in (shown[0], valid))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / x)),
                                      np.asarray(Image.open(tmp_path / "out" / y)))
    assert pd.read_csv(tmp_path / "out" / "crops.csv")["path"].tolist() == res.crops["path"].tolist()
    import hashlib
    digest = hashlib.sha1((valid + "\x000").encode()).hexdigest()[:16]
    assert _key(valid, 0) == f"café-{digest}"  # the key it had before
    assert _key(raw, 0) != _key(os.fsdecode(folder + b"/caf\xe8.mp4"), 0)  # distinct bytes, distinct keys


def test_a_rerun_asking_for_other_crops_or_features_is_refused_naming_them(manifest, tmp_path):
    """A rerun into the same folder reused every item's crops and feature rows whatever it asked:
    another detector's run recorded the first one's crops as its own, other features failed with
    "Shape of passed values is (24, 41), indices imply (24, 8)". The settings are kept in
    settings.json and a rerun asking for others is refused, naming them; the same settings resume."""
    from forensics.features import SpectralFeatures

    out = tmp_path / "out"
    run = dict(detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    first = extract_faces(manifest, out, features=BlurFeatures(), **run)
    assert json.loads((out / "settings.json").read_text())["size"] == 48
    with pytest.raises(ValueError, match=r"holds face crops made with features=\['BlurFeatures'\]; this run asks "
                                         r"for features=\['SpectralFeatures'\]: use another output folder"):
        extract_faces(manifest, out, features=SpectralFeatures(), **run)
    with pytest.raises(ValueError, match=r"features=\['BlurFeatures'\] \(other parameters\)"):
        extract_faces(manifest, out, features=BlurFeatures(grid=2), **run)
    with pytest.raises(ValueError, match="made with size=48; this run asks for size=64"):
        extract_faces(manifest, out, features=BlurFeatures(), **dict(run, size=64))
    with pytest.raises(ValueError, match="made with n_frames=3; this run asks for n_frames=4"):
        extract_faces(manifest, out, features=BlurFeatures(), **dict(run, n_frames=4))
    with pytest.raises(ValueError, match="made with model_path=None; this run asks for model_path='"):
        extract_faces(manifest, out, features=BlurFeatures(), **dict(run, detector="cascade",
                                                                     model_path=str(tmp_path / "m.onnx")))
    # the look-alikes that resume: the same settings, a detector instance of another class (not compared),
    # no features asked (the rows written are not read)
    again = extract_faces(manifest, out, features=BlurFeatures(), **dict(run, detector=CountingDetector()))
    assert again.n_reused == len(manifest)
    pd.testing.assert_frame_equal(again.crops, first.crops)
    assert extract_faces(manifest, out, **run).n_reused == len(manifest)
    # a string detector is compared as the backend it resolves to; images alone: n_frames does not count
    images = manifest.iloc[[4]].reset_index(drop=True)
    extract_faces(images, tmp_path / "img", detector="cascade", n_frames=3, size=48, progress=False)
    assert extract_faces(images, tmp_path / "img", detector="cascade", n_frames=8, size=48,
                         progress=False).n_reused == 1
    from forensics.datasets._extract import _check_settings

    asked = dict(json.loads((tmp_path / "img" / "settings.json").read_text()), detector="yunet")
    with pytest.raises(ValueError, match="made with detector='cascade'; this run asks for detector='yunet'"):
        _check_settings(tmp_path / "img", asked)

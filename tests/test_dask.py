"""Extraction on a Dask cluster: same rows, order, records and files as ``n_jobs=1``, through a lost worker.

One real ``distributed.LocalCluster`` (2 worker processes, 1 thread each) serves the whole module.
A lost worker is a real one: :class:`KillOnce` sends SIGKILL to its own worker process the first
time it meets a chosen item (a marker file makes it happen once); the nanny restarts the worker
and the scheduler reruns the task elsewhere.
"""

import filecmp
import gc
import os
import signal
import time

import joblib
import numpy as np
import pandas as pd
import pytest

from conftest import encode, natural_image
from forensics import use_cluster
from forensics._parallel import SCHEDULER_ENV, n_workers, run_in_order
from forensics.cli import main
from forensics.datasets import extract_faces
from forensics.features import BlurFeatures, VideoFeatures, make_feature_bank
from forensics.media import ItemError
from test_video_features import KnownBoxDetector, _video

distributed = pytest.importorskip("distributed", reason="needs dask.distributed (the 'dask' extra)")


class KillOnce(BlurFeatures):
    """BlurFeatures that kills its own Dask worker process the first time it meets ``target``.

    The worker's pid is written to ``marker`` first, so the kill happens once and the test can
    check that the process is gone. Outside a Dask worker it refuses to kill (``get_worker``
    raises), so a mistake can never kill the test process.
    """

    def __init__(self, *, marker="", target="", grid=4, edge_threshold=20.0, n_jobs=None, on_error="raise",
                 progress=False):
        super().__init__(grid=grid, edge_threshold=edge_threshold, n_jobs=n_jobs, on_error=on_error,
                         progress=progress)
        self.marker = marker
        self.target = target

    def _prepare(self, item):
        if str(item.source).endswith(self.target) and not os.path.exists(self.marker):
            distributed.get_worker()  # ValueError outside a worker
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._prepare(item)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


def _killed(client, marker):
    """The pid written by KillOnce, after checking that no worker of the cluster has it any more."""
    pid = int(marker.read_text())
    assert pid not in client.run(os.getpid).values()  # (its replacement may still be starting)
    return pid


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """17 PNG files of varied sizes (uneven work, so tasks finish out of order) and one broken file."""
    root = tmp_path_factory.mktemp("images")
    paths = []
    for k in range(17):
        shape = (48 + 16 * (k % 5), 64 + 24 * (k % 3))
        path = root / f"img_{k:02d}.png"
        path.write_bytes(encode(natural_image(k, shape), "PNG"))
        paths.append(str(path))
    bad = root / "bad.png"
    bad.write_bytes(b"not a png at all")
    paths.insert(9, str(bad))
    return paths


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    paths = [_video(root / f"v{k}.mp4", n=6, seed=k, dark=(2,) if k == 1 else ()) for k in range(4)]
    broken = root / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    paths.insert(2, str(broken))
    return paths


# -- where the work runs ----------------------------------------------------------------------------

def test_configured_backend_is_honoured_at_default_n_jobs(client):
    assert n_workers(None) == 1 and n_workers(1) == 1  # no configuration: this process
    with joblib.parallel_config(n_jobs=3):
        assert n_workers(None) == 3 and n_workers(1) == 1
    with joblib.parallel_config(backend="dask"):
        assert n_workers(None) == 2 and n_workers(4) == 2  # the cluster's threads, whatever n_jobs says
        assert n_workers(1) == 1  # n_jobs=1 always means this process
        pids = list(run_in_order((joblib.delayed(os.getpid)() for _ in range(6)), None))
    workers = set(client.run(os.getpid).values())
    assert set(pids) <= workers and os.getpid() not in pids


def test_use_cluster_reads_the_address_or_the_environment(client, monkeypatch):
    address = client.scheduler.address
    monkeypatch.setenv(SCHEDULER_ENV, address)
    with use_cluster() as c:
        assert c.scheduler.address == address and n_workers(None) == 2
    assert n_workers(None) == 1  # the configuration ends with the block
    monkeypatch.setenv(SCHEDULER_ENV, " ")
    with pytest.raises(ValueError, match=SCHEDULER_ENV):
        with use_cluster():
            pass
    monkeypatch.delenv(SCHEDULER_ENV)
    with pytest.raises(ValueError, match="no Dask scheduler address"):
        with use_cluster(""):
            pass


def test_exceptions_reach_the_caller_and_pending_tasks_are_cancelled(client):
    pulled = []

    def tasks():
        yield joblib.delayed(int)("7")
        yield joblib.delayed(int)("x")  # ValueError on a worker
        for k in range(50):
            pulled.append(k)
            yield joblib.delayed(time.sleep)(0.05)

    with use_cluster(client):
        results = run_in_order(tasks(), None)
        assert next(results) == 7
        with pytest.raises(ValueError, match="invalid literal") as info:
            next(results)
    del info, results  # the traceback holds the failed task's future
    gc.collect()
    assert len(pulled) == 4 * 2 - 1  # a window of 4 tasks per worker thread: the rest was never submitted
    deadline = time.monotonic() + 20
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0  # cancelled, released


# -- identical outputs ------------------------------------------------------------------------------

def test_feature_bank_rows_and_status_are_those_of_one_job(client, images):
    families = ["blur", "noise", "spectral"]  # three families keep the workers' start short
    serial = make_feature_bank(families, on_error="nan", n_jobs=1).fit()
    with pytest.warns(RuntimeWarning, match="1 of 18"):
        expected = serial.transform(images)
    bank = make_feature_bank(families, on_error="nan").fit()  # n_jobs=None: the configured backend decides
    with joblib.parallel_config(backend="dask"), pytest.warns(RuntimeWarning, match="1 of 18"):
        got = bank.transform(images)
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[9]).all() and np.isfinite(got[np.arange(18) != 9]).any(axis=1).all()
    pd.testing.assert_frame_equal(bank.status_, serial.status_)
    assert bank.status_["index"].tolist() == list(range(18))


def test_killed_worker_loses_no_row_and_duplicates_none(client, images, tmp_path):
    good = [p for p in images if not p.endswith("bad.png")]
    expected = BlurFeatures(n_jobs=1).fit().transform(good)
    marker = tmp_path / "killed"
    killer = KillOnce(marker=str(marker), target="img_08.png").fit()
    with use_cluster(client):
        got = killer.transform(good)
    _killed(client, marker)
    np.testing.assert_array_equal(got, expected)
    assert killer.status_["index"].tolist() == list(range(len(good)))
    assert (killer.status_["status"] == "ok").all()


def test_bad_item_raises_item_error_naming_it(client, images):
    with use_cluster(client), pytest.raises(ItemError) as info:
        make_feature_bank(["blur"]).fit().transform(images)
    assert info.value.index == 9 and info.value.source.endswith("bad.png")
    assert str(info.value).startswith("item 9 (") and "bad.png" in str(info.value)


def test_video_features_rows_records_and_status_are_those_of_one_job(client, videos):
    def make(n_jobs):
        return VideoFeatures(BlurFeatures(), n_frames=3, detector=KnownBoxDetector(), size=48, on_error="nan",
                             n_jobs=n_jobs).fit()

    serial = make(1)
    with pytest.warns(RuntimeWarning, match="1 of 5 videos could not be read"):
        expected = serial.transform(videos)
    vf = make(None)
    with use_cluster(client), pytest.warns(RuntimeWarning, match="1 of 5 videos could not be read"):
        got = vf.transform(videos)
    np.testing.assert_array_equal(got, expected)
    pd.testing.assert_frame_equal(vf.status_, serial.status_)
    pd.testing.assert_frame_equal(vf.records_, serial.records_)
    assert vf.status_["status"].tolist() == ["ok", "ok", "error", "ok", "ok"]
    assert vf.records_["video"].tolist() == [0] * 3 + [1] * 3 + [3] * 3 + [4] * 3
    with use_cluster(client), pytest.raises(ItemError, match=r"item 2 \(.*broken\.mp4\)"):
        make(None).set_params(on_error="raise").transform(videos)


def _manifest(videos, images):
    paths = videos + images[:3] + images[9:10]  # videos (one broken), stills, a broken still
    return pd.DataFrame(dict(path=paths, label=[k % 2 for k in range(len(paths))],
                             method=["real" if k % 2 == 0 else "swap" for k in range(len(paths))]))


def _same_tree(a, b, differ=()):
    """Every file of ``a`` and ``b`` the same, byte for byte; those named in ``differ`` only both there."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    mismatch = [f for f in files if str(f) not in differ and not filecmp.cmp(a / f, b / f, shallow=False)]
    assert not mismatch
    return files


def test_extract_faces_writes_byte_identical_outputs(client, videos, images, tmp_path):
    manifest = _manifest(videos, images)
    kw = dict(detector=KnownBoxDetector(), n_frames=3, size=48, features=BlurFeatures(on_error="nan"),
              progress=False)
    serial = extract_faces(manifest, tmp_path / "one", n_jobs=1, **kw)
    with use_cluster(client):
        got = extract_faces(manifest, tmp_path / "cluster", **kw)
    files = _same_tree(tmp_path / "one", tmp_path / "cluster")
    assert sum(f.suffix == ".png" for f in files) == len(serial.crops) > 0
    pd.testing.assert_frame_equal(got.crops, serial.crops)
    pd.testing.assert_frame_equal(got.status, serial.status)
    assert got.status["status"].tolist()[2] == "error" and got.status["status"].tolist()[-1] == "error"


# -- command line ------------------------------------------------------------------------------------

def test_cli_extract_scheduler_writes_the_same_table(client, images, tmp_path, capsys):
    manifest = tmp_path / "items.csv"
    pd.DataFrame(dict(path=images[7:11])).to_csv(manifest, index=False)  # the broken image included
    args = ["extract", str(manifest), "--features", "blur", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "one"), "--n-jobs", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "cluster"), "--scheduler", client.scheduler.address]) == 0
    one, cluster = (pd.read_parquet(tmp_path / d / "features.parquet") for d in ("one", "cluster"))
    pd.testing.assert_frame_equal(one, cluster)
    assert cluster["status"].tolist() == ["ok"] * 2 + ["error", "ok"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x"), "--n-jobs", "2", "--scheduler", client.scheduler.address]) == 2
    assert "--n-jobs" in capsys.readouterr().err


# -- a worker lost mid-run (last: the replacement worker starts while the module ends) ---------------

def test_killed_worker_in_extract_faces_leaves_the_same_files(client, videos, images, tmp_path):
    manifest = _manifest(videos, images)
    kw = dict(detector=KnownBoxDetector(), n_frames=3, size=48, progress=False)
    extract_faces(manifest, tmp_path / "one", n_jobs=1, features=BlurFeatures(on_error="nan"), **kw)
    marker = tmp_path / "killed"
    with use_cluster(client):
        # v3 dies after its crops and records are written, before its done marker
        extract_faces(manifest, tmp_path / "cluster", features=KillOnce(marker=str(marker), target="v3.mp4",
                                                                         on_error="nan"), **kw)
    _killed(client, marker)
    # no crop lost, none duplicated; settings.json names the features' class, here the killing look-alike
    _same_tree(tmp_path / "one", tmp_path / "cluster", differ=("settings.json",))


def test_hostile_videos_among_good_ones_are_their_own_rows_on_the_cluster(client, videos, tmp_path, capsys):
    """Round 7: a header declaring 16000x16000 frames (880 bytes), a header saying 10**9 frames without a
    packet, and a stream that grows to 16000x16000 mid-way, among the good videos. Before, the first made
    each worker that tried it grow past its memory limit (3 GB: killed four times, KilledWorker after 120 s,
    no row at all). Now each is one row with its reason, the good rows are those of one process, and the
    progress bar counts every video (7 in all; it is cleared when done)."""
    from video_fixtures import h264_declaring, index_frames, patch_avi_frame_count, to_mpegts, write_video

    huge = h264_declaring(tmp_path / "huge.h264", [(1000, 1000)] * 2)
    avi = write_video(tmp_path / "v.avi", index_frames(8), codec="mjpeg")
    patch_avi_frame_count(avi, 10**9)
    data = avi.read_bytes()
    billion = tmp_path / "billion.avi"
    billion.write_bytes(data[:data.find(b"movi") + 4])
    a = to_mpegts(h264_declaring(tmp_path / "a.h264", []), tmp_path / "a.ts")
    b = to_mpegts(h264_declaring(tmp_path / "b.h264", [(1000, 1000)] * 2), tmp_path / "b.ts", first_pts=8)
    grows = tmp_path / "grows.ts"
    grows.write_bytes(a.read_bytes() + b.read_bytes())
    good = [p for p in videos if not p.endswith("broken.mp4")]
    seq = [good[0], str(huge), good[1], str(billion), good[2], str(grows), good[3]]

    def make(n_jobs, progress=False):
        return VideoFeatures(BlurFeatures(), n_frames=4, faces=False, on_error="nan", n_jobs=n_jobs,
                             progress=progress).fit()

    serial = make(1)
    with pytest.warns(RuntimeWarning, match="2 of 7 videos could not be read"):
        expected = serial.transform(seq)
    capsys.readouterr()
    vf = make(None, progress=True)
    with use_cluster(client), pytest.warns(RuntimeWarning, match="2 of 7 videos could not be read"):
        got = vf.transform(seq)
    assert "videos:   0%|          | 0/7" in capsys.readouterr().err  # counts every video; cleared when done
    np.testing.assert_array_equal(got, expected)
    pd.testing.assert_frame_equal(vf.status_, serial.status_)
    assert vf.status_["status"].tolist() == ["ok", "error", "ok", "error", "ok", "partial", "ok"]
    assert vf.status_["error"][1].startswith("video frames are 16000x16000 (256 megapixels), above max_pixels=")
    assert vf.status_["error"][3].startswith("no frame could be decoded (the stream holds no packet: its "
                                             "1000000000 frames")
    assert "Picture size 16000x16000 exceeds specified max pixel count" in vf.status_["error"][5]
    assert np.isnan(got[[1, 3]]).all() and not np.isnan(got[[0, 2, 4, 5, 6]]).all(axis=1).any()
    # the grown stream: of frames 0, 5, 10, 15 the first two are of the 64x48 part
    assert vf.records_.groupby("video").size().to_dict() == {0: 4, 2: 4, 4: 4, 5: 2, 6: 4}

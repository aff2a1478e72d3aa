"""Speed-up of extraction on a Dask cluster of 2 worker processes against ``n_jobs=1``.

Issue #11 asks for the speed-up with 2 Dask workers on the 2-core development machine. Two
workloads, both through the library's own loops:

- ``bank``: the full handcrafted bank (``make_feature_bank()``) on 256x256 JPEG face crops
  (:func:`~forensics.features._base.run_extraction`);
- ``video``: ``VideoFeatures(make_feature_bank(preset="pixels"), faces=False, n_frames=8)`` on
  synthetic 640x360 H.264 videos of 48 frames.

Each is timed in this process (``n_jobs=1``), on a ``distributed.LocalCluster`` of 2 worker
processes with 1 thread each (``forensics.use_cluster``; cluster start and the workers' first
imports are timed separately and left out), and with joblib's loky backend at ``n_jobs=2`` for
reference. Every repeat runs the three in turn; the ratios are per repeat and the medians are
reported. The outputs of the three are checked equal. The load average is printed before and
after, with the CPU capacity two busy processes get at that moment (2 x the time of one alone
over the time of two together): on a shared machine that, not the core count, bounds the
speed-up.

    python benchmarks/bench_dask.py [--n-images 96] [--n-videos 12] [--repeats 3]

``--scatter-check`` also runs the experiment behind the design choice in
``forensics/_parallel.py``: through joblib's own Dask backend, a task that kills the worker
holding joblib's auto-scattered argument makes the whole run fail; through
``forensics._parallel.run_in_order`` the task is rerun and the run completes.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # video_fixtures


def face_jpegs(n, folder):
    """n JPEG files of 256x256 crops of scikit-image's astronaut (the face) at small offsets."""
    import cv2
    from skimage import data

    astro = data.astronaut()[:, :, ::-1]
    rng = np.random.default_rng(0)
    paths = []
    for k in range(n):
        y, x = rng.integers(0, 64, 2)
        crop = np.ascontiguousarray(astro[y:y + 256, 96 + x:96 + x + 256])
        path = folder / f"face_{k:04d}.jpg"
        cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
    return paths


def videos(n, folder):
    """n synthetic 640x360 H.264 videos of 48 frames (a textured background moving)."""
    from video_fixtures import write_video

    paths = []
    for k in range(n):
        rng = np.random.default_rng(k)
        base = rng.integers(30, 220, (360, 640, 3)).astype(np.float64)
        base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1) + np.roll(base, 2, 1)) / 4
        frames = [np.clip(np.roll(base, 3 * t, axis=1), 0, 255).astype(np.uint8) for t in range(48)]
        paths.append(str(write_video(folder / f"video_{k:03d}.mp4", frames, fps=25)))
    return paths


def load():
    return "load average %.2f %.2f %.2f (1, 5, 15 min)" % os.getloadavg()


def _spin(n):
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def cpu_capacity(n=10_000_000):
    """How many CPUs two busy processes get right now: 2 x (one alone) / (two together), at most 2.

    On a shared machine this, not the core count, bounds any 2-worker speed-up.
    """
    from multiprocessing import get_context

    alone = _spin(n)
    with get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started before timing
        t0 = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        both = time.perf_counter() - t0
    return 2 * alone / both


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _kill_first(big, k, marker):
    """Used by --scatter-check: task 0 kills its worker once (the marker file keeps it once)."""
    if k == 0 and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.1)
    return k + int(big[0])


def scatter_check(client, folder):
    import joblib

    from forensics import use_cluster
    from forensics._parallel import run_in_order

    big = np.zeros(10_000)  # > 1 kB: joblib's Dask backend scatters it to one worker
    for name in ("joblib Dask backend", "forensics run_in_order"):
        marker = folder / f"killed-{name.split()[0]}"
        jobs = (joblib.delayed(_kill_first)(big, k, str(marker)) for k in range(8))
        try:
            if name.startswith("joblib"):
                with joblib.parallel_config(backend="dask"):
                    out = list(joblib.Parallel(n_jobs=-1, return_as="generator")(jobs))
            else:
                with use_cluster(client):
                    out = list(run_in_order(jobs, None))
            result = "complete" if out == list(range(8)) else f"WRONG {out}"
        except Exception as exc:  # the failure is the finding
            result = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
        print(f"  {name}: worker killed by task 0 -> {result}")
        client.wait_for_workers(2, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=96)
    parser.add_argument("--n-videos", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scatter-check", action="store_true")
    args = parser.parse_args()

    import distributed
    from joblib import parallel_config

    from forensics import use_cluster
    from forensics.features import VideoFeatures, make_feature_bank

    print(f"{os.cpu_count()} CPUs; {load()}; two busy processes get {cpu_capacity():.2f} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = face_jpegs(args.n_images, tmp)
        clips = videos(args.n_videos, tmp)
        workloads = {
            f"bank: full bank, {len(images)} JPEG 256x256": (lambda n: make_feature_bank(n_jobs=n).fit(), images),
            f"video: pixels bank, {len(clips)} videos 640x360 x 8 frames": (
                lambda n: VideoFeatures(make_feature_bank(preset="pixels"), faces=False, n_frames=8, n_jobs=n).fit(),
                clips),
        }
        for make, X in workloads.values():  # numba compile and imports, in this process
            make(1).transform(X[:2])
        t_start, cluster = timed(lambda: distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                                  dashboard_address=None, silence_logs=40))
        client = distributed.Client(cluster)
        with use_cluster(client):
            t_warm, _ = timed(lambda: [make(None).transform(X[:4]) for make, X in workloads.values()])
        print(f"LocalCluster(2 workers x 1 thread) started in {t_start:.1f} s; workers' first imports and "
              f"calls {t_warm:.1f} s (not counted below)")
        with use_cluster(client):  # the cost of one task: round trip client -> scheduler -> worker -> client
            import joblib

            from forensics._parallel import run_in_order

            list(run_in_order((joblib.delayed(abs)(k) for k in range(20)), None))
            t_tasks, _ = timed(lambda: list(run_in_order((joblib.delayed(abs)(k) for k in range(400)), None)))
        print(f"overhead: 400 trivial tasks through run_in_order in {t_tasks:.2f} s ({1e3 * t_tasks / 400:.1f} ms "
              "per task; up to 4 tasks in flight per worker thread)")
        with parallel_config(n_jobs=2):  # loky workers started and warmed too
            [make(2).transform(X[:4]) for make, X in workloads.values()]
        for name, (make, X) in workloads.items():
            times = {"n_jobs=1": [], "dask 2 workers": [], "loky n_jobs=2": []}
            for _ in range(args.repeats):
                t1, ref = timed(lambda: make(1).transform(X))
                with use_cluster(client):
                    td, got = timed(lambda: make(None).transform(X))
                tl, lok = timed(lambda: make(2).transform(X))
                assert np.array_equal(got, ref, equal_nan=True) and np.array_equal(lok, ref, equal_nan=True)
                times["n_jobs=1"].append(t1)
                times["dask 2 workers"].append(td)
                times["loky n_jobs=2"].append(tl)
            ratios = {k: statistics.median(a / b for a, b in zip(times["n_jobs=1"], v)) for k, v in times.items()}
            print(f"\n{name} (median of {args.repeats}; outputs equal to n_jobs=1)")
            for k, v in times.items():
                med = statistics.median(v)
                print(f"  {k:15s} {med:7.2f} s  {len(X) / med:7.1f} items/s  speed-up {ratios[k]:.2f}x")
        if args.scatter_check:
            print("\nscatter check (why forensics submits tasks itself instead of going through joblib's Dask backend):")
            scatter_check(client, tmp)
        client.close()
        cluster.close()
    print(f"\n{load()}; two busy processes get {cpu_capacity():.2f} CPUs")


if __name__ == "__main__":
    main()

"""What the public paths give for round 9's file, name and data set variants (before/after table).

Each variant is built in a temporary folder and read through the path a user takes
(``forensics.media.load_item``, ``forensics.datasets`` loaders, ``validate_zip``,
``forensics.extract_table``, the MLflow tracker); the outcome is printed as one Markdown row:
``ok`` with the value that matters, or the exception's type and message (cut to 110 characters).
Run it on two checkouts to compare them::

    PYTHONPATH=$PWD python benchmarks/file_variants.py [--timing]

``--timing`` adds the cost of the MPO check (the one check on a file that decodes).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import encode, natural_image  # noqa: E402

from forensics.media import load_item  # noqa: E402


def _outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - the outcome is the point
            text = " ".join(str(exc).split())
            return f"{type(exc).__name__}: {_short(text)}"
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
             and "not in the manifest" not in str(w.message)]
    return f"ok: {value}" + (f" (warns: {_short(notes[0])})" if notes else "")


def _short(text):
    """The message with temporary folders dropped, its start and end when long."""
    text = re.sub(r"/tmp/\S+?/", ".../", text)
    return text if len(text) <= 170 else f"{text[:70]} ... {text[-95:]}"


def _pixels(data):
    return lambda: f"{load_item(data).pixels.shape}"


def image_variants():
    img = natural_image(9, (40, 48))
    rows = []
    for comp in ("tiff_lzw", "tiff_adobe_deflate"):
        whole = encode(img, "TIFF", compression=comp)
        rows.append(("TIFF", f"{comp} cut at 90% (directory after the data)", _pixels(whole[:len(whole) * 9 // 10])))
    whole = encode(img, "TIFF", compression="tiff_lzw")
    at = int.from_bytes(whole[4:8], "little")
    rows.append(("TIFF", "LZW, directory zeroed (cut and padded)", _pixels(whole[:at] + bytes(len(whole) - at))))
    for lossless in (False, True):
        whole = encode(img, "WEBP", lossless=lossless, quality=90)
        cut = bytearray(whole[:len(whole) // 2])
        cut[4:8] = (len(cut) - 8).to_bytes(4, "little")
        rows.append(("WebP", f"{'lossless' if lossless else 'lossy'} cut in half, RIFF size rewritten", _pixels(bytes(cut))))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "AVIF", quality=80)
    whole = buf.getvalue()
    rows.append(("AVIF", "cut at 80% (inside mdat)", _pixels(whole[:len(whole) * 8 // 10])))
    frames = [Image.fromarray(natural_image(k, (32, 40))) for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = buf.getvalue()
    second = gif.index(b"\x2c", gif.index(b"\x21\xf9", gif.index(b"\x2c") + 1))
    rows.append(("GIF", "3 frames, cut inside frame 2", _pixels(gif[:second + 200])))
    buf = io.BytesIO()
    frames[0].save(buf, "MPO", save_all=True, append_images=frames[1:], quality=95)
    mpo = buf.getvalue()
    rows.append(("MPO", "3 pictures, last byte cut", _pixels(mpo[:-1])))
    rows.append(("MPO", "3 pictures, cut between pictures 2 and 3", _pixels(mpo[:mpo.rfind(b"\xff\xd8")])))
    rows.append(("MPO", "whole (look-alike)", _pixels(mpo)))
    import tifffile

    full = natural_image(1, (64, 80))
    for name, first in (("first page a 16x20 preview (NewSubfileType 1) of a 64x80 picture", dict(subfiletype=1)),
                        ("DNG (DNGVersion tag, preview first)",
                         dict(subfiletype=1, extratags=[(50706, "B", 4, (1, 4, 0, 0), True)]))):
        buf = io.BytesIO()
        with tifffile.TiffWriter(buf) as w:
            w.write(np.ascontiguousarray(full[::4, ::4]), photometric="rgb", **first)
            w.write(full, photometric="rgb")
        rows.append(("TIFF", name, _pixels(buf.getvalue())))
    return rows


def name_variants(tmp):
    from forensics._sources import load_data
    from forensics.datasets import read_manifest

    png = encode(natural_image(3, (8, 8)), "PNG")
    (tmp / "a.png").write_bytes(png)
    os.environ["HOME"] = str(tmp)
    url = "file://" + str(tmp / "a.png")
    rows = [("name", "file:// URL of an existing file", lambda: load_item(url).shape),
            ("name", "'~/a.png' (not expanded), file exists at $HOME/a.png", lambda: load_item("~/a.png").shape),
            ("name", "' a.png' (leading space) for 'a.png'", lambda: load_item(str(tmp / " a.png")).shape)]
    data = tmp / "data"
    data.mkdir()
    (data / "m.csv").write_text(f"path,label\n{url},0\n~/a.png,1\n", encoding="utf-8")
    rows.append(("name", "'.../*.png' (a pattern no shell expanded)", lambda: load_item(str(tmp / "*.png")).shape))
    (tmp / "u16").mkdir()
    (tmp / "u16" / "a.png").write_bytes(png)
    (tmp / "u16" / "m.csv").write_bytes("path,label\na.png,0\n".encode("utf-16"))
    rows.append(("manifest", "UTF-16 with its byte-order mark", lambda: read_manifest(tmp / "u16" / "m.csv")["exists"].tolist()))
    (tmp / "u16" / "excel.csv").write_bytes(b"sep=;\r\npath;label\r\na.png;0\r\n")
    rows.append(("manifest", "Excel's separator line 'sep=;' before the header",
                 lambda: read_manifest(tmp / "u16" / "excel.csv")["exists"].tolist()))
    rows.append(("manifest", "rows 'file:///.../a.png' and '~/a.png'",
                 lambda: read_manifest(data / "m.csv")["exists"].tolist()))
    bad = os.fsdecode(os.fsencode(str(tmp)) + b"/caf\xe9")
    os.mkdir(bad)
    for sub in ("real", "fake"):
        os.mkdir(os.path.join(bad, sub))
        Path(bad, sub, "x.png").write_bytes(png)
    rows.append(("folder", "load_folder of a folder named in Latin-1", lambda: len(load_data(bad))))
    rows.append(("table", "extract_table + Parquet of a Latin-1 file name", lambda: _latin1_table(tmp, png)))
    rows.append(("MLflow", "a Latin-1 --out in the run's parameters", lambda: _latin1_mlflow(tmp, bad)))
    return rows


def _latin1_table(tmp, png):
    import pandas as pd

    from forensics import extract_table

    raw = os.fsdecode(os.fsencode(str(tmp)) + b"/im\xe9.png")
    Path(raw).write_bytes(png)
    table = extract_table(pd.DataFrame({"path": pd.Series([raw], dtype=object), "label": [0]}), features=["blur"])
    table.to_parquet(tmp / "t.parquet")
    return pd.read_parquet(tmp / "t.parquet")["path"].str.rsplit("/", n=1).str[-1].tolist()


def _latin1_mlflow(tmp, bad):
    from forensics.tracking._mlflow import Tracker

    with Tracker(f"sqlite:///{tmp / 'mlflow.db'}", experiment="x") as run:
        run.log_params({"output.out": bad})
    return "logged"


def _zip(entries):
    local, central = b"", b""
    for k, (raw, flag) in enumerate(entries):
        data = b"entry %d" % k
        fields = (0x800 if flag else 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(raw), 0)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *fields, 0, 0, 0, 0, len(local)) + raw
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, *fields) + raw + data
    return local + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                                         len(local), 0)


def dataset_variants(tmp):
    from forensics.datasets import load_celebdf, load_dfdc, load_faceforensics, load_folder, validate_zip

    rows = []
    for spelling in ("Metadata.json", "METADATA.JSON"):
        part = tmp / spelling / "dfdc_train_part_0"
        part.mkdir(parents=True)
        (part / spelling).write_text(json.dumps({"a.mp4": {"label": "FAKE", "original": "b.mp4"},
                                                 "b.mp4": {"label": "REAL"}}))
        for name in ("a.mp4", "b.mp4"):
            (part / name).write_bytes(b"")
        rows.append(("DFDC", f"part with {spelling}", lambda p=part.parent: load_dfdc(p)["label"].tolist()))
    part = tmp / "orig" / "dfdc_train_part_0"
    part.mkdir(parents=True)
    (part / "metadata.json").write_text(json.dumps({"a.mp4": {"label": "FAKE", "original": "dfdc_train_part_0/b.mp4"},
                                                    "b.mp4": {"label": "REAL"}}))
    for name in ("a.mp4", "b.mp4"):
        (part / name).write_bytes(b"")
    rows.append(("DFDC", "original written 'dfdc_train_part_0/b.mp4': groups of a, b",
                 lambda: load_dfdc(part.parent)["group"].tolist()))
    nested = tmp / "nested" / "dfdc_train_all" / "dfdc_train_part_0"
    nested.mkdir(parents=True)
    (nested / "metadata.json").write_text(json.dumps({"a.mp4": {"label": "REAL"}}))
    rows.append(("DFDC", "parts one folder deeper", lambda: load_dfdc(tmp / "nested")))
    for name, load, rel in (("folder", load_folder, ("real/a.jpg", "fake/b.jpg")),
                            ("FF++", load_faceforensics, ("original_sequences/youtube/c23/videos/000.mp4",
                                                          "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")),
                            ("Celeb-DF", load_celebdf, ("Celeb-real/id0_0000.mp4", "YouTube-real/00000.mp4",
                                                        "Celeb-synthesis/id0_id1_0000.mp4"))):
        for r in rel:
            (tmp / name / "copy" / r).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name / "copy" / r).write_bytes(b"")
        rows.append((name, "layout one folder deeper", lambda p=tmp / name, f=load: f(p)))
    arc = tmp / "names.zip"
    arc.write_bytes(_zip([("real/caf\u00e9.jpg".encode(), False), ("fake/b.jpg".encode(), False)]))
    rows.append(("ZIP", "UTF-8 name without the UTF-8 flag", lambda: validate_zip(arc).files))
    return rows


def mpo_check_cost(repeats=9):
    """CPU ms of the MP index check and of the whole decode of a 2048x1536 stereo MPO (medians)."""
    import time

    from forensics.media._item import _check_mpo_index

    pictures = [Image.fromarray(natural_image(k, (1536, 2048))) for k in range(2)]
    buf = io.BytesIO()
    pictures[0].save(buf, "MPO", save_all=True, append_images=pictures[1:], quality=92)
    data = buf.getvalue()
    check, decode = [], []
    for _ in range(repeats):
        item = load_item(data)
        header = item.header
        t = time.process_time()
        _check_mpo_index(item, header)
        check.append(time.process_time() - t)
        item = load_item(data)
        t = time.process_time()
        item.pixels  # the check included
        decode.append(time.process_time() - t)
    print(f"\nMPO 2048x1536 stereo pair ({len(data)} bytes): MP index check {np.median(check) * 1e3:.2f} CPU ms, "
          f"load_item(...).pixels {np.median(decode) * 1e3:.1f} CPU ms (medians of {repeats})")


def main():
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "names").mkdir()
        (tmp / "sets").mkdir()
        rows = image_variants() + name_variants(tmp / "names") + dataset_variants(tmp / "sets")
        print("| kind | variant | outcome |\n|---|---|---|")
        for kind, variant, fn in rows:
            print(f"| {kind} | {variant} | {_outcome(fn).replace('|', '/')} |")
    if "--timing" in sys.argv:
        mpo_check_cost()


if __name__ == "__main__":
    main()

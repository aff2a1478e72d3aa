"""ZIP validation and extraction: hostile archives are refused with the entry named."""

import os
import random
import re
import stat
import struct
import warnings
import zipfile

import pytest

from forensics.datasets import UnsafeArchiveError, safe_extract_zip, validate_zip


def _zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    """Write ``entries``: (name or ZipInfo, bytes) pairs, duplicates allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def _listing(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_benign_zip_extracts_files_and_folders(tmp_path):
    arc = _zip(tmp_path / "ok.zip", [("real/a.jpg", b"A" * 100), ("fake/swap/b.png", b"B"),
                                     ("empty_dir/", b""), ("./real//c.txt", b"c")])
    report = validate_zip(arc)
    assert report.files == ["real/a.jpg", "fake/swap/b.png", "real/c.txt"]
    assert report.n_dirs == 1 and report.total_bytes == 102
    assert report.duplicate_content == [] and report.warnings == []
    out = safe_extract_zip(arc, tmp_path / "out")
    assert out == [tmp_path / "out" / "real" / "a.jpg", tmp_path / "out" / "fake" / "swap" / "b.png",
                   tmp_path / "out" / "real" / "c.txt"]
    assert (tmp_path / "out" / "real" / "a.jpg").read_bytes() == b"A" * 100
    assert _listing(tmp_path / "out") == ["empty_dir", "fake", "fake/swap", "fake/swap/b.png", "real",
                                          "real/a.jpg", "real/c.txt"]  # no staging folder left


def test_duplicate_content_is_reported_not_refused(tmp_path):
    arc = _zip(tmp_path / "dup.zip", [("a/1.jpg", b"same"), ("b/2.jpg", b"other"), ("c/3.jpg", b"same"),
                                      ("e1", b""), ("e2", b""), ("Cat.jpg", b"x"), ("cat.jpg", b"y")])
    report = validate_zip(arc)
    assert report.duplicate_content == [["a/1.jpg", "c/3.jpg"]]  # empty files are not duplicates
    assert report.sha256["a/1.jpg"] == report.sha256["c/3.jpg"] != report.sha256["b/2.jpg"]
    assert any("identical content: a/1.jpg, c/3.jpg" in w for w in report.warnings)
    assert any("differ only in case" in w for w in report.warnings)
    assert len(safe_extract_zip(arc, tmp_path / "out")) == 7


@pytest.mark.parametrize("name, reason", [
    ("../evil.sh", r"'\.\.' in the path"),
    ("data/../../evil.sh", r"'\.\.' in the path"),
    ("..\\evil.bat", r"'\.\.' in the path"),
    ("/etc/evil", "absolute path"),
    ("C:/Windows/evil.dll", "drive letter"),
    ("c:evil", "drive letter"),
])
def test_path_traversal_is_refused(tmp_path, name, reason):
    arc = _zip(tmp_path / "bad.zip", [("fine.txt", b"ok"), (zipfile.ZipInfo(name), b"pwned")])
    with pytest.raises(UnsafeArchiveError, match=reason) as err:
        validate_zip(arc)
    assert err.value.entry == name and str(arc) in str(err.value) and repr(name) in str(err.value)
    with pytest.raises(UnsafeArchiveError):
        safe_extract_zip(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.sh").exists()


def _special(name, mode):
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the upper 16 bits of external_attr are st_mode
    info.external_attr = mode << 16
    return info


def test_symlink_entry_is_refused(tmp_path):
    arc = _zip(tmp_path / "link.zip", [(_special("data/link", stat.S_IFLNK | 0o777), b"/etc/passwd"),
                                       ("data/link/x", b"through the link")])
    with pytest.raises(UnsafeArchiveError, match="symbolic link") as err:
        safe_extract_zip(arc, tmp_path / "out")
    assert err.value.entry == "data/link"
    arc = _zip(tmp_path / "fifo.zip", [(_special("fifo", stat.S_IFIFO | 0o644), b"")])
    with pytest.raises(UnsafeArchiveError, match="special file"):
        validate_zip(arc)


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    arc = _zip(tmp_path / "bomb.zip", [("readme.txt", b"hi"), ("zeros.bin", bytes(20 * 2**20))])
    assert arc.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match=r"compression ratio \d+ exceeds max_ratio=100") as err:
        validate_zip(arc, max_ratio=100)
    assert err.value.entry == "zeros.bin"
    with pytest.raises(UnsafeArchiveError, match="zeros.bin"):
        safe_extract_zip(arc, tmp_path / "out", max_ratio=100)
    assert not (tmp_path / "out").exists()
    # the overall ratio counts too: many small highly compressible entries
    arc = _zip(tmp_path / "many.zip", [(f"z{i}.bin", bytes(2**19)) for i in range(8)])
    with pytest.raises(UnsafeArchiveError, match="overall compression ratio"):
        validate_zip(arc, max_ratio=100)
    assert validate_zip(arc, max_ratio=100, ratio_min_bytes=2**30).total_bytes == 8 * 2**19


def test_total_size_and_file_count_limits(tmp_path):
    arc = _zip(tmp_path / "five.zip", [(f"f{i}.txt", b"x" * 10) for i in range(5)])
    with pytest.raises(UnsafeArchiveError, match="more than max_files=3 entries") as err:
        validate_zip(arc, max_files=3)
    assert err.value.entry == "f3.txt"
    with pytest.raises(UnsafeArchiveError, match="max_total_bytes=25") as err:
        safe_extract_zip(arc, tmp_path / "out", max_total_bytes=25)
    assert err.value.entry == "f2.txt"
    assert validate_zip(arc, max_files=5, max_total_bytes=50).total_bytes == 50


def test_duplicate_names_are_refused(tmp_path):
    arc = _zip(tmp_path / "dupname.zip", [("real/a.jpg", b"first"), ("real/a.jpg", b"second")])
    with pytest.raises(UnsafeArchiveError, match="duplicate name") as err:
        validate_zip(arc)
    assert err.value.entry == "real/a.jpg"
    arc = _zip(tmp_path / "dupnorm.zip", [("real/a.jpg", b"first"), ("./real\\a.jpg", b"second")])
    with pytest.raises(UnsafeArchiveError, match=r"duplicate name \(same path as entry 'real/a.jpg'\)"):
        safe_extract_zip(arc, tmp_path / "out")
    arc = _zip(tmp_path / "clash.zip", [("a", b"file"), ("a/b", b"inside a file?")])
    with pytest.raises(UnsafeArchiveError, match="its folder 'a' is also a file entry"):
        validate_zip(arc)


def test_corrupt_entry_is_refused_with_its_name(tmp_path):
    arc = _zip(tmp_path / "crc.zip", [("ok.txt", b"fine"), ("data.bin", b"0123456789" * 10)],
               compression=zipfile.ZIP_STORED)
    raw = bytearray(arc.read_bytes())
    k = raw.index(b"0123456789")
    raw[k] ^= 0xFF
    arc.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match="data.bin.*cannot be read") as err:
        safe_extract_zip(arc, tmp_path / "out")
    assert err.value.entry == "data.bin"
    assert not (tmp_path / "out").exists()  # no empty target left behind, nothing half-written
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(UnsafeArchiveError, match="not a readable ZIP"):
        validate_zip(tmp_path / "junk.zip")
    assert issubclass(UnsafeArchiveError, ValueError)


def test_extraction_never_overwrites_nor_follows_links(tmp_path):
    arc = _zip(tmp_path / "ok.zip", [("sub/a.txt", b"new")])
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "a.txt").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="already exists"):
        safe_extract_zip(arc, tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "a.txt").read_bytes() == b"old"
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out2").mkdir()
    os.symlink(outside, tmp_path / "out2" / "sub")
    with pytest.raises(FileExistsError, match="symbolic link"):
        safe_extract_zip(arc, tmp_path / "out2")
    assert list(outside.iterdir()) == []


def test_no_permissions_taken_from_the_archive(tmp_path):
    info = _special("run.sh", stat.S_IFREG | 0o6777)  # setuid, setgid, world-writable, executable
    arc = _zip(tmp_path / "perm.zip", [(info, b"#!/bin/sh\n")])
    (path,) = safe_extract_zip(arc, tmp_path / "out")
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & (stat.S_ISUID | stat.S_ISGID | 0o111) == 0
    assert mode & stat.S_IRUSR and mode & stat.S_IWUSR
    with pytest.raises(TypeError, match="max_ratios"):
        safe_extract_zip(arc, tmp_path / "out3", max_ratios=5)


# ---------------------------------------------------------------- malformed archives, failed extractions

_PAYLOAD = bytes(range(256)) * 40


def _central(raw, name, signature=b"PK\x01\x02", fixed=46):
    """Offset of the central directory header of ``name`` in ``raw`` (or its local header)."""
    k = raw.index(signature)
    while raw[k + fixed: k + fixed + len(name)] != name:
        k = raw.index(signature, k + 4)
    return k


def _local(raw, name):
    return _central(raw, name, b"PK\x03\x04", 30)


def _malformed(kind, broken):
    """(entries, compression, patch): a small archive and, when ``broken``, the damage of ``kind``."""
    def patch(raw):
        if kind == "utf8 name":  # flagged UTF-8 (bit 11) but not UTF-8; look-alike: valid UTF-8
            return raw.replace("é".encode(), b"\xff\xfe") if broken else raw
        if kind == "version":  # version needed to extract: 6.4 is past what zipfile reads; 6.3 is fine
            k = _central(raw, b"a.bin")
            raw[k + 6: k + 8] = struct.pack("<H", 64 if broken else 63)
            return raw
        if kind == "method":  # compression method 99 (AES); look-alike: 8 (deflate), what it is
            for k in (_local(raw, b"a.bin") + 8, _central(raw, b"a.bin") + 10):
                raw[k: k + 2] = struct.pack("<H", 99 if broken else 8)
            return raw
        if kind == "encrypted":  # flag bit 0; look-alike: bit 11 (UTF-8 names), harmless
            k = _central(raw, b"a.bin")
            raw[k + 8: k + 10] = struct.pack("<H", struct.unpack("<H", raw[k + 8: k + 10])[0] | (1 if broken else 0x800))
            return raw
        if kind == "truncated central directory":
            return raw[:-30] if broken else raw
        # corrupt compressed data of a.bin: its data starts after the 30-byte local header and the name
        start = _local(raw, b"a.bin") + 30 + len("a.bin")
        k = {"deflate": 4, "bzip2": 4, "lzma": 10}[kind]
        if broken:
            raw[start + k: start + k + 8] = b"\xff" * 8
        return raw

    compression = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}.get(kind, zipfile.ZIP_DEFLATED)
    entries = [("a.bin", _PAYLOAD)] + ([("dir/é.txt", b"accent")] if kind == "utf8 name" else [])
    return entries, compression, patch


@pytest.mark.parametrize("kind, reason", [
    ("utf8 name", "not a readable ZIP archive"),            # was UnicodeDecodeError
    ("version", "not a readable ZIP archive"),              # was NotImplementedError
    ("truncated central directory", "not a readable ZIP archive"),
    ("method", "cannot be read"),
    ("encrypted", "encrypted entry"),
    ("deflate", "cannot be read"),                          # was zlib.error
    ("bzip2", "cannot be read"),
    ("lzma", "cannot be read"),                             # was LZMAError
])
def test_malformed_archive_raises_the_archive_error_and_leaves_nothing(tmp_path, kind, reason):
    for broken in (False, True):
        entries, compression, patch = _malformed(kind, broken)
        arc = _zip(tmp_path / f"{kind}-{broken}.zip", entries, compression=compression)
        arc.write_bytes(bytes(patch(bytearray(arc.read_bytes()))))
        target = tmp_path / f"new-{broken}" / "out"
        if not broken:  # the valid look-alike is accepted and extracted intact
            assert validate_zip(arc).files == [name for name, _ in entries]
            safe_extract_zip(arc, target)
            assert (target / "a.bin").read_bytes() == _PAYLOAD
            continue
        with pytest.raises(UnsafeArchiveError, match=reason) as err:
            validate_zip(arc)
        if reason == "cannot be read" or reason == "encrypted entry":
            assert err.value.entry == "a.bin"
        with pytest.raises(UnsafeArchiveError, match=reason):
            safe_extract_zip(arc, target)
        assert not target.parent.exists()  # neither the target nor the parent it would have created
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["new-False"]


def test_failed_extraction_into_an_existing_folder_leaves_it_as_it_was(tmp_path):
    entries, compression, patch = _malformed("deflate", True)
    arc = _zip(tmp_path / "bad.zip", [("sub/ok.txt", b"fine")] + entries + [("later/", b"")])
    arc.write_bytes(bytes(patch(bytearray(arc.read_bytes()))))
    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "keep.txt").write_bytes(b"mine")
    with pytest.raises(UnsafeArchiveError, match="'a.bin': cannot be read"):
        safe_extract_zip(arc, target)
    assert _listing(target) == ["keep.txt", "sub"]  # no staging folder, no sub/ok.txt, no later/
    # the same archive intact extracts beside the user's files, and the target keeps its mode
    mode = stat.S_IMODE(target.stat().st_mode)
    arc = _zip(tmp_path / "good.zip", [("sub/ok.txt", b"fine")] + entries + [("later/", b"")])
    assert [p.relative_to(target).as_posix() for p in safe_extract_zip(arc, target)] == ["sub/ok.txt", "a.bin"]
    assert _listing(target) == ["a.bin", "keep.txt", "later", "sub", "sub/ok.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_new_target_gets_the_default_folder_mode(tmp_path):
    arc = _zip(tmp_path / "ok.zip", [("a/b.txt", b"x")])
    (tmp_path / "probe").mkdir()  # what a plain mkdir gives under this process's umask
    out = tmp_path / "x" / "y" / "out"
    safe_extract_zip(arc, out)
    expected = stat.S_IMODE((tmp_path / "probe").stat().st_mode)
    assert stat.S_IMODE(out.stat().st_mode) == expected  # not the 0700 of a temporary folder
    assert _listing(tmp_path / "x") == ["y", "y/out", "y/out/a", "y/out/a/b.txt"]  # no staging left
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FileExistsError, match="is not a folder"):
        safe_extract_zip(arc, tmp_path / "file")


def test_name_the_file_system_refuses_is_an_archive_error(tmp_path):
    fine, long = "d/" + "a" * 255, "d/" + "a" * 256  # NAME_MAX is 255 bytes on Linux, macOS, Windows
    arc = _zip(tmp_path / "fine.zip", [(fine, b"x")])
    assert safe_extract_zip(arc, tmp_path / "fine")[0].name == "a" * 255
    arc = _zip(tmp_path / "long.zip", [("ok.txt", b"x"), (long, b"x")])
    assert validate_zip(arc).files == ["ok.txt", long]  # no file system is consulted here
    with pytest.raises(UnsafeArchiveError, match="name cannot be written here") as err:
        safe_extract_zip(arc, tmp_path / "long")
    assert err.value.entry == long and not (tmp_path / "long").exists()


def test_seeded_fuzz_only_archive_errors_and_no_leftovers(tmp_path):
    rng = random.Random(16)
    bases = []
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        bases.append(_zip(tmp_path / f"base{compression}.zip", [("r/a.jpg", _PAYLOAD[:3000]), ("f/b.png", b"xyz" * 300),
                                                               ("d/", b"")], compression=compression).read_bytes())
    outcomes = {"ok": 0, "refused": 0}
    for i in range(240):
        raw = bytearray(rng.choice(bases))
        for _ in range(rng.choice((1, 1, 3, 12))):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(len(raw))]
        arc = tmp_path / "fuzz.zip"
        arc.write_bytes(bytes(raw))
        target = tmp_path / "fz" / str(i)
        try:
            validate_zip(arc)
            safe_extract_zip(arc, target)
            outcomes["ok"] += 1
        except UnsafeArchiveError:
            outcomes["refused"] += 1
            assert not (tmp_path / "fz").exists() or not target.exists()
    assert outcomes["refused"] > 100 and outcomes["ok"] > 10  # both paths exercised


# ---------------------------------------------------------------- limits at their defaults

def _zip_declaring(path, sizes, data=b"12345"):
    """A hand-built archive whose central directory declares ``sizes`` (ZIP64) for entries holding ``data``.

    Nothing here is ever decompressed: the size checks read the central directory only.
    """
    local, central, offset = [], [], 0
    contents = data if isinstance(data, list) else [data] * len(sizes)
    for k, (size, data) in enumerate(zip(sizes, contents)):
        name = f"f{k}.bin".encode()
        local.append(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0x21, 0, len(data), len(data),
                                 len(name), 0) + name + data)
        extra = struct.pack("<HHQ", 1, 8, size)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0, 0, 0, 0x21, 0, len(data),
                                   0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, offset) + name + extra)
        offset += len(local[-1])
    local, central = b"".join(local), b"".join(central)
    n = len(sizes)
    tail = b""
    if n > 0xFFFF:  # too many entries for the classic end record: a ZIP64 end record and its locator
        tail = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), len(local))
        tail += struct.pack("<4sIQI", b"PK\x06\x07", 0, len(local) + len(central), 1)
        tail += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        tail = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), len(local), 0)
    path.write_bytes(local + central + tail)
    return path


def test_default_size_limits_at_and_above_their_boundary(tmp_path):
    limit = 50 * 2**30
    at = _zip_declaring(tmp_path / "at.zip", [limit - 10, 10])
    above = _zip_declaring(tmp_path / "above.zip", [limit - 10, 11])
    # exactly the default total passes the total check (the ratio check is switched off here) ...
    report = validate_zip(at, ratio_min_bytes=2**62, hash_contents=False)
    assert report.total_bytes == limit and report.compressed_bytes == 10
    # ... one byte more does not, in both functions (safe_extract_zip has its own copy of the defaults)
    for check in (lambda p: validate_zip(p, ratio_min_bytes=2**62, hash_contents=False),
                  lambda p: safe_extract_zip(p, tmp_path / "out", ratio_min_bytes=2**62)):
        with pytest.raises(UnsafeArchiveError, match=r"exceeds max_total_bytes=53687091200") as err:
            check(above)
        assert err.value.entry == "f1.bin"
    with pytest.raises(UnsafeArchiveError, match="compression ratio"):  # the default ratio limit, then
        safe_extract_zip(at, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_default_ratio_limit_and_its_size_floor(tmp_path):
    # an entry of 1 MiB - 1 byte may compress any amount; from 1 MiB on the ratio 200 applies
    small = _zip_declaring(tmp_path / "small.zip", [2**20 - 1], data=b"x")
    assert validate_zip(small, hash_contents=False).total_bytes == 2**20 - 1
    n = 5243  # 200 * 5243 >= 2**20
    at = _zip_declaring(tmp_path / "at.zip", [200 * n], data=b"x" * n)  # ratio exactly 200: accepted
    assert validate_zip(at, hash_contents=False).ratio == 200
    above = _zip_declaring(tmp_path / "above.zip", [200 * n + 1], data=b"x" * n)
    with pytest.raises(UnsafeArchiveError, match=r"compression ratio 200 exceeds max_ratio=200") as err:
        validate_zip(above, hash_contents=False)
    assert err.value.entry == "f0.bin"
    with pytest.raises(UnsafeArchiveError, match="max_ratio=200"):
        safe_extract_zip(above, tmp_path / "out")
    # the overall ratio: entries each below the floor, together above it; the most compressed
    # one is named (an empty entry, 0 bytes from 0, is not the culprit and divides by nothing)
    many = _zip_declaring(tmp_path / "many.zip", [0, 2**19, 2**19, 2**19, 2**19],
                          data=[b"", b"xx", b"x", b"xx", b"xx"])
    with pytest.raises(UnsafeArchiveError, match="overall compression ratio") as err:
        validate_zip(many, hash_contents=False)
    assert err.value.entry == "f2.bin"
    assert validate_zip(many, hash_contents=False, max_ratio=2**20).total_bytes == 2**21


def test_default_file_count_limit(tmp_path):
    arc = _zip_declaring(tmp_path / "many.zip", [0] * 100_001, data=b"")
    with pytest.raises(UnsafeArchiveError, match=r"more than max_files=100000 entries \(100001\)") as err:
        validate_zip(arc, hash_contents=False)
    assert err.value.entry == "f100000.bin"
    with pytest.raises(UnsafeArchiveError, match="max_files=100000"):
        safe_extract_zip(arc, tmp_path / "out")


def test_a_folder_entry_and_a_file_of_the_same_name_are_refused(tmp_path):
    arc = _zip(tmp_path / "both.zip", [("a/", b""), ("a", b"file")])
    with pytest.raises(UnsafeArchiveError, match=r"duplicate name \(same path as entry 'a/'\)") as err:
        validate_zip(arc)
    assert err.value.entry == "a"
    arc = _zip(tmp_path / "fine.zip", [("a/", b""), ("a/b", b"file"), ("ab", b"other")])  # look-alike
    assert validate_zip(arc).files == ["a/b", "ab"] and validate_zip(arc).n_dirs == 1


def test_folder_entries_next_to_the_files_they_hold(tmp_path):
    # a folder entry after a file inside it (and before another), into a new and an existing target
    arc = _zip(tmp_path / "dirs.zip", [("real/a.jpg", b"a"), ("real/", b""), ("fake/", b""), ("fake/b.jpg", b"b")])
    out = safe_extract_zip(arc, tmp_path / "new")
    assert [p.relative_to(tmp_path / "new").as_posix() for p in out] == ["real/a.jpg", "fake/b.jpg"]
    (tmp_path / "old" / "real").mkdir(parents=True)  # the folder already exists in the target
    out = safe_extract_zip(arc, tmp_path / "old")
    assert _listing(tmp_path / "old") == ["fake", "fake/b.jpg", "real", "real/a.jpg"]


def test_a_file_in_the_target_where_the_archive_needs_a_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "sub").write_bytes(b"a file, not a folder")
    for entries in ([("sub/x.txt", b"x")], [("sub/deeper/x.txt", b"x")]):
        arc = _zip(tmp_path / "a.zip", entries)
        with pytest.raises(FileExistsError, match=r"sub exists and is not a folder"):
            safe_extract_zip(arc, target)
        assert _listing(target) == ["sub"] and (target / "sub").read_bytes() == b"a file, not a folder"


def test_folder_entry_name_the_file_system_refuses(tmp_path):
    long = "d/" + "a" * 256 + "/"
    arc = _zip(tmp_path / "long.zip", [("ok.txt", b"x"), (long, b"")])
    with pytest.raises(UnsafeArchiveError, match="name cannot be written here") as err:
        safe_extract_zip(arc, tmp_path / "out")
    assert err.value.entry == long and not (tmp_path / "out").exists()


def test_a_failure_while_moving_into_an_existing_target_takes_back_what_was_moved(tmp_path):
    import shutil
    import subprocess

    target = tmp_path / "out"
    (target / "late").mkdir(parents=True)
    (target / "keep.txt").write_bytes(b"mine")
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(target / "late")], capture_output=True).returncode:
        pytest.skip("needs chattr +i (an immutable folder) on this file system, as root")
    try:
        arc = _zip(tmp_path / "a.zip", [("early.txt", b"1"), ("new/dir/b.txt", b"2"), ("late/x.txt", b"3")])
        with pytest.raises(PermissionError):
            safe_extract_zip(arc, target)
    finally:
        subprocess.run([chattr, "-i", str(target / "late")], check=True)
    assert _listing(target) == ["keep.txt", "late"]  # early.txt and new/dir/ taken back, no staging left


def test_small_entries_may_compress_far_past_the_ratio_by_default(tmp_path):
    # 512 KiB of zeros deflate about 1000 times: below the 1 MiB floor, so not a bomb
    arc = _zip(tmp_path / "zeros.zip", [("zeros.bin", bytes(2**19)), ("notes.txt", b"a" * 5000)])
    assert validate_zip(arc).ratio > 200
    out = safe_extract_zip(arc, tmp_path / "out")
    assert [p.stat().st_size for p in out] == [2**19, 5000]


def test_spaces_are_names_control_characters_are_not(tmp_path):
    arc = _zip(tmp_path / "ok.zip", [("my photos/a b.jpg", b"x"), ("tab\u00e9.jpg", b"y")])
    assert validate_zip(arc).files == ["my photos/a b.jpg", "tab\u00e9.jpg"]
    for bad in ("a\x1fb.jpg", "a\nb.jpg", "a\x01"):
        arc = _zip(tmp_path / "bad.zip", [(zipfile.ZipInfo(bad), b"x")])
        with pytest.raises(UnsafeArchiveError, match="control character") as err:
            validate_zip(arc)
        assert err.value.entry == bad


def test_an_empty_entry_name_is_refused_as_such(tmp_path):
    # zipfile itself cannot handle it (ZipInfo("").is_dir() raises IndexError): refused by name,
    # before any other check; the look-alike "./" (a name that resolves to the target) has its own reason
    arc = _zip(tmp_path / "empty.zip", [(zipfile.ZipInfo(""), b"x")])
    with pytest.raises(UnsafeArchiveError, match="empty name or control character") as err:
        validate_zip(arc)
    assert err.value.entry == ""
    arc = _zip(tmp_path / "dot.zip", [(zipfile.ZipInfo("./"), b"")])
    with pytest.raises(UnsafeArchiveError, match="name resolves to the target folder itself"):
        validate_zip(arc)


def test_entries_are_streamed_in_pieces_of_one_mebibyte(tmp_path):
    """The memory bound of the streamed reading: an entry crossing two chunk boundaries is read as
    1 MiB, 1 MiB and the rest, and its hash and extracted bytes are whole."""
    import hashlib

    from forensics.datasets import _archive

    data = random.Random(0).randbytes(2**21 + 7)
    arc = _zip(tmp_path / "big.zip", [("big.bin", data)], compression=zipfile.ZIP_STORED)
    pieces = []
    with zipfile.ZipFile(arc) as zf:
        _archive._read_checked(arc, zf, zf.getinfo("big.bin"), lambda chunk: pieces.append(len(chunk)))
    assert pieces == [2**20, 2**20, 7]
    assert validate_zip(arc).sha256["big.bin"] == hashlib.sha256(data).hexdigest()
    assert safe_extract_zip(arc, tmp_path / "out")[0].read_bytes() == data


def test_read_failures_name_the_exception_and_its_message(tmp_path):
    # a CRC error carries a message: "Type: message"
    arc = _zip(tmp_path / "crc.zip", [("data.bin", b"0123456789" * 10)], compression=zipfile.ZIP_STORED)
    raw = bytearray(arc.read_bytes())
    raw[raw.index(b"0123456789")] ^= 0xFF
    arc.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError) as err:
        validate_zip(arc)
    assert re.fullmatch(r"cannot be read \(BadZipFile: Bad CRC-32 for (file )?'data\.bin'\)", err.value.reason)
    # an entry whose declared sizes run past the end of the file: zipfile's EOFError has no message,
    # so the reason names the type alone (no dangling ": ")
    arc = _zip(tmp_path / "short.zip", [("a.bin", b"0123456789" * 10)], compression=zipfile.ZIP_STORED)
    raw = bytearray(arc.read_bytes())
    k = raw.rindex(b"PK\x01\x02")  # the central directory entry: compressed, uncompressed sizes at +20
    raw[k + 20: k + 28] = struct.pack("<II", 10**6, 10**6)
    arc.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError) as err:
        validate_zip(arc)
    assert err.value.reason == "cannot be read (EOFError)" and err.value.entry == "a.bin"


def test_a_file_entry_used_as_a_folder_several_levels_up(tmp_path):
    # "a/b" is a file and "a/b/c/d/e.txt" needs it as a folder three levels above: every ancestor is
    # checked, the immediate parent of a name two or more levels deep included ("a/b/c")
    for deep in ("a/b/c", "a/b/c/e.txt", "a/b/c/d/e.txt", "a/b/c/d/f/e.txt"):
        arc = _zip(tmp_path / "clash.zip", [("a/b", b"file"), (deep, b"x")])
        with pytest.raises(UnsafeArchiveError, match="its folder 'a/b' is also a file entry") as err:
            validate_zip(arc)
        assert err.value.entry == deep
    # the look-alike: "a/bb" is not an ancestor of "a/b/c/d/e.txt"
    arc = _zip(tmp_path / "ok.zip", [("a/bb", b"file"), ("a/b/c/d/e.txt", b"x")])
    assert validate_zip(arc).files == ["a/bb", "a/b/c/d/e.txt"]


def test_a_clean_up_that_fails_does_not_hide_the_error(tmp_path, monkeypatch):
    # extraction into an existing folder fails at its second move (a full disk), and the first file
    # moved cannot be taken back (something put a folder in its place): the disk error is what the
    # caller gets, and the rest of the clean-up still runs (no staging folder, no folder left)
    import errno

    target = tmp_path / "out"
    target.mkdir()
    arc = _zip(tmp_path / "a.zip", [("first.txt", b"1"), ("sub/second.txt", b"2")])
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            return real_replace(src, dst)
        os.unlink(calls[0])
        os.mkdir(calls[0])
        (calls[0] / "x").write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as err:
        safe_extract_zip(arc, target)
    assert err.value.errno == errno.ENOSPC
    assert _listing(target) == ["first.txt", "first.txt/x"]  # "sub" removed, no staging folder left


def _zip_raw_names(path, entries):
    """A stored archive whose entries' names are the given bytes: (name bytes, UTF-8 flag, Unicode
    Path extra field text or None, CRC of the name the field claims or None for the right one)."""
    import zlib

    local, central = b"", b""
    for k, (raw, flag, unicode_path, claimed) in enumerate(entries):
        data = b"entry %d" % k
        extra = b""
        if unicode_path is not None:
            body = b"\x01" + struct.pack("<I", zlib.crc32(raw) if claimed is None else claimed) + unicode_path.encode()
            extra = struct.pack("<HH", 0x7075, len(body)) + body
        fields = (0x800 if flag else 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(raw), len(extra))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *fields, 0, 0, 0, 0, len(local)) + raw + extra
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, *fields) + raw + extra + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path


def test_utf8_names_without_the_utf8_flag_keep_their_letters(tmp_path):
    """Many tools write UTF-8 names without setting the ZIP's UTF-8 flag; zipfile reads such a name
    as cp437 (the standard's default), so 'caf\u00e9.jpg' was extracted as 'caf\u251c\u2310.jpg', silently, and
    a manifest naming 'caf\u00e9.jpg' found no file. Look-alikes: the same name with the flag (no
    warning); a cp437 name ('\u00e9' is one byte 0x82, not UTF-8) stays cp437, with a warning; a
    Unicode Path extra field naming the entry is its name, one whose CRC belongs to another name is
    ignored; ASCII names are untouched."""
    cafe, photo = "caf\u00e9.jpg", "\u5199\u771f.jpg"
    arc = _zip_raw_names(tmp_path / "a.zip", [
        (b"real/" + cafe.encode(), False, None, None),              # UTF-8, no flag
        (b"real/" + photo.encode(), False, None, None),
        (b"fake/" + cafe.encode(), True, None, None),               # UTF-8 with the flag
        (b"cp437/" + cafe.encode("cp437"), False, None, None),      # cp437: b'caf\x82.jpg'
        (b"fake/x" + photo.encode("shift_jis"), False, "fake/x" + photo, None),  # Unicode Path field
        (b"fake/y" + photo.encode("shift_jis"), False, "wrong.jpg", 1234),  # a field for another name
        (b"fake/plain.jpg", False, None, None)])
    report = validate_zip(arc)
    assert report.files == ["real/" + cafe, "real/" + photo, "fake/" + cafe, "cp437/" + cafe, "fake/x" + photo,
                            "fake/y" + photo.encode("shift_jis").decode("cp437"), "fake/plain.jpg"]
    assert report.warnings == [
        "2 entry name(s) are UTF-8 without the archive's UTF-8 flag, read as UTF-8 (first: 'real/caf\u00e9.jpg', "
        "which the ZIP standard's cp437 would read 'real/caf\u251c\u2310.jpg')",
        "2 entry name(s) are not ASCII, not UTF-8 and carry no UTF-8 flag: read as cp437, the ZIP standard's "
        "encoding (first: 'cp437/caf\u00e9.jpg'); if the archive was written in another code page (a Windows "
        "system's), these names are not the ones its writer saw"]
    out = safe_extract_zip(arc, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in out] == report.files
    assert (tmp_path / "out" / "real" / cafe).read_bytes() == b"entry 0"
    assert (tmp_path / "out" / "fake" / ("x" + photo)).read_bytes() == b"entry 4"
    flagged = _zip_raw_names(tmp_path / "b.zip", [(b"real/" + cafe.encode(), True, None, None)])
    assert validate_zip(flagged).warnings == [] and validate_zip(flagged).files == ["real/" + cafe]


def test_names_differing_only_in_unicode_normalization_are_reported(tmp_path):
    """'caf\u00e9.jpg' (NFC) and 'cafe\u0301.jpg' (NFD, as macOS writes names) are two files on Linux that
    print alike, and one on macOS: reported as the case-only clash is. Look-alikes: the case clash
    keeps its warning; two unrelated names get none."""
    names = ("a/caf\u00e9.jpg", "a/cafe\u0301.jpg", "b/X.jpg", "b/x.jpg", "c/one.jpg", "c/two.jpg")
    report = validate_zip(_zip(tmp_path / "n.zip", [(name, name.encode()) for name in names]))
    assert report.warnings == [
        "'a/cafe\u0301.jpg' and 'a/caf\u00e9.jpg' differ only in Unicode normalization (NFC/NFD: they print alike): "
        "they collide on macOS file systems, and a list naming one form finds only that one",
        "'b/x.jpg' and 'b/X.jpg' differ only in case: they collide on case-insensitive file systems"]

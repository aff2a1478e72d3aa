import pytest

from forensics.datasets import load_folder


def _touch(root, rel):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_folder_layout_labels_and_methods(tmp_path):
    for rel in ["real/b.jpg", "real/sub/a.PNG", "fake/Deepfakes/x/1.jpg", "fake/Face2Face/2.jpg", "fake/3.webp",
                "fake/readme.md"]:
        _touch(tmp_path, rel)
    m = load_folder(tmp_path)
    assert m["label"].tolist() == [0, 0, 1, 1, 1]
    assert m["method"].tolist() == ["real", "real", "fake", "Deepfakes", "Face2Face"]
    assert m["path"].str.endswith(("b.jpg", "a.PNG", "3.webp", "1.jpg", "2.jpg")).all()
    assert all(p.startswith(str(tmp_path)) for p in m["path"])
    assert not any(p.endswith(".md") for p in m["path"])


def test_folder_errors_name_the_problem(tmp_path):
    _touch(tmp_path, "real/a.jpg")
    with pytest.raises(FileNotFoundError, match="no fake/ folder"):
        load_folder(tmp_path)
    (tmp_path / "fake").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no image"):
        load_folder(tmp_path)


def test_folder_tops_in_another_letter_case_are_the_layout(tmp_path):
    """'Real/' and 'Fake/' (made on Windows or macOS) were refused as 'no real/ folder' though they hold
    the data set; the one folder whose name differs only in case is taken, its labels and methods as
    for the lower-case names. Look-alikes: with 'real/' beside 'Real/', 'real/' is the layout and
    'Real/' is counted outside it; two case variants and no exact name are refused, naming both."""
    import warnings

    from forensics.datasets import SkippedFilesWarning

    for rel in ["Real/a.jpg", "FAKE/gan/b.jpg", "FAKE/c.jpg"]:
        _touch(tmp_path / "one", rel)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_folder(tmp_path / "one")
    assert m["path"].tolist() == [str(tmp_path / "one" / r) for r in ("Real/a.jpg", "FAKE/c.jpg", "FAKE/gan/b.jpg")]
    assert m["label"].tolist() == [0, 1, 1] and m["method"].tolist() == ["real", "fake", "gan"]
    for rel in ["real/a.jpg", "Real/b.jpg", "fake/c.jpg"]:
        _touch(tmp_path / "two", rel)
    with pytest.warns(SkippedFilesWarning, match=r"1 outside real/ and fake/ \(no label\) \(e\.g\. Real/b\.jpg\)"):
        assert load_folder(tmp_path / "two")["path"].str.endswith(("real/a.jpg", "fake/c.jpg")).all()
    for rel in ["Real/a.jpg", "REAL/b.jpg", "fake/c.jpg"]:
        _touch(tmp_path / "three", rel)
    # the loaders' one case rule (find_named): two variants and no exact name are a ValueError naming both
    with pytest.raises(ValueError, match=r"three: 'REAL' and 'Real' differ only in letter case and no 'real' exists"):
        load_folder(tmp_path / "three")
    with pytest.raises(FileNotFoundError, match=r"has no real/ folder"):
        load_folder(tmp_path / "two" / "fake")

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

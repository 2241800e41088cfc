"""The GloVe loader: mirror subset, full-file preference, zip-member download, announcements, bad input."""

import hashlib
import io
import socket
import zipfile

import numpy as np
import pytest

from localserver import LocalServer

from course.datasets import DataFile, DatasetNotFoundError, glove


@pytest.fixture(autouse=True)
def fresh_announcements(monkeypatch):
    monkeypatch.setattr(glove, "_announced", set())


def closed_port_url(name: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def small_glove(words=("the", "movie", "good"), dim=4) -> bytes:
    rng = np.random.default_rng(0)
    lines = [w + " " + " ".join(f"{x:.5f}" for x in rng.normal(size=dim)) for w in words]
    return ("\n".join(lines) + "\n").encode()


def use_full_file(monkeypatch, content: bytes, urls: tuple[str, ...]):
    """Pretend the full 100d file is ``content`` (the real one is 347 MB), fetched from ``urls``."""
    file = DataFile("glove.6B.100d.txt", hashlib.sha256(content).hexdigest(), urls, in_zip=True)
    monkeypatch.setitem(glove.FULL_FILES, 100, file)
    return file


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_mirror_subset_100d(data_dir, empty_cache, capsys):
    index = glove.load(100)
    assert len(index) == 2604
    assert list(index)[:5] == ["the", ",", ".", "of", "to"] and list(index)[-1] == "corner"
    assert all(v.dtype == np.float32 and v.shape == (100,) for v in index.values())
    # First values of the first row as published for glove.6B.100d.txt.
    np.testing.assert_array_equal(index["the"][:4], np.array([-0.038194, -0.24487, 0.72812, -0.39961], np.float32))
    assert {"–", "’s", "—", "“", "”"} <= set(index), "the 5 repaired tokens are proper UTF-8"


def test_mirror_subset_50d(data_dir, empty_cache):
    index = glove.load(dim=50)
    assert len(index) == 2445 and list(index)[-1] == "attempts"  # (MANIFEST.md says "handed")
    np.testing.assert_array_equal(index["the"][:5], np.array([0.418, 0.24968, -0.41242, 0.1217, 0.34527], np.float32))
    assert list(index) == list(glove.load(100))[:2445], "both subsets are the head of the same vocabulary"


def test_subset_is_announced_once_with_count_and_upstream(data_dir, empty_cache, capsys):
    glove.load(100)
    first = capsys.readouterr().out
    assert "2,604 of 400,000 words" in first
    assert "https://nlp.stanford.edu/data/glove.6B.zip" in first and "glove.6B.100d.txt" in first
    glove.load(100)
    assert capsys.readouterr().out == "", "the note is printed once per file"
    glove.load(50)
    assert "2,445 of 400,000 words" in capsys.readouterr().out


def test_unsupported_dimension_is_a_clear_error():
    with pytest.raises(ValueError, match="50 or 100"):
        glove.load(300)


def test_a_verified_full_file_is_preferred_to_the_subset(data_dir, tmp_path, empty_cache, monkeypatch, capsys):
    content = small_glove(("the", "a", "movie"), dim=100)
    use_full_file(monkeypatch, content, (closed_port_url("glove.6B.zip"),))
    mirror = tmp_path / "mirror"
    (mirror / "glove").mkdir(parents=True)
    for file in glove.SUBSET_FILES.values():
        (mirror / "glove" / file.name).symlink_to(data_dir / "glove" / file.name)
    (mirror / "glove" / "glove.6B.100d.txt").write_bytes(content)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    assert list(glove.load(100)) == ["the", "a", "movie"]
    # A full file that fails its checksum is ignored: the subset is used.
    (mirror / "glove" / "glove.6B.100d.txt").write_bytes(content.replace(b"movie", b"film!"))
    monkeypatch.setattr(glove, "_announced", set())
    assert len(glove.load(100)) == 2604


def test_without_mirror_the_member_is_downloaded_from_the_zip_and_cached(empty_cache, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    member = small_glove(dim=100)
    server = LocalServer(zipped({"glove.6B.50d.txt": b"other", "glove.6B.100d.txt": member}), "glove.6B.zip")
    try:
        use_full_file(monkeypatch, member, (server.url,))
        index = glove.load(100)
    finally:
        server.close()
    assert list(index) == ["the", "movie", "good"] and server.requests == 1
    cached = empty_cache / "glove" / "glove.6B.100d.txt"
    assert cached.read_bytes() == member
    assert [p.name for p in empty_cache.rglob("*") if p.is_file()] == [cached.name], "the zip is not kept"
    assert "3 of 400,000 words" in capsys.readouterr().out
    assert list(glove.load(100)) == ["the", "movie", "good"], "served from the cache once offline"


@pytest.mark.parametrize(
    "body, complaint",
    [(zipped({"glove.6B.50d.txt": b"x"}), "has no member"), (b"<html>not a zip</html>", "not a valid zip archive")],
)
def test_a_bad_archive_is_a_clear_error_and_caches_nothing(body, complaint, empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    server = LocalServer(body, "glove.6B.zip")
    try:
        use_full_file(monkeypatch, small_glove(dim=100), (server.url,))
        with pytest.raises(DatasetNotFoundError, match=complaint):
            glove.load(100)
    finally:
        server.close()
    assert not any(p.is_file() for p in empty_cache.rglob("*"))


def test_offline_miss_says_where_the_full_file_comes_from(empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    file = use_full_file(monkeypatch, small_glove(dim=100), (closed_port_url("glove.6B.zip"),))
    with pytest.raises(DatasetNotFoundError) as error:
        glove.load(100)
    message = str(error.value)
    assert "glove.6B.100d.txt" in message and "COURSE_DATA_DIR" in message
    assert f"download {file.urls[0]} and extract 'glove.6B.100d.txt'" in message


def test_read_vectors_parses_and_rejects_malformed_lines(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("the 1 2 3\nsan francisco 4 5 6\n", encoding="utf-8")
    index = glove.read_vectors(good, dim=3)
    assert list(index) == ["the", "san francisco"], "the vector is the last dim fields, whatever the word holds"
    np.testing.assert_array_equal(index["san francisco"], np.array([4, 5, 6], np.float32))
    bad = tmp_path / "bad.txt"
    bad.write_text("the 1 2 3\nmovie 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt, line 2"):
        glove.read_vectors(bad)
    with pytest.raises(ValueError, match="line 1"):
        glove.read_vectors(good, dim=4)

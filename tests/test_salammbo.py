"""course.datasets.salammbo against the lecture's table, and the co-occurrence counts of course.cooccurrence."""

import dataclasses
import socket

import numpy as np
import pytest

from course.cooccurrence import cooccurrence_counts, tokenize, vocabulary
from course.datasets import DatasetNotFoundError, salammbo

# The "Character Counts" slide of EDAN95 lecture 6 (the course seed 001), typed in as printed: one row per
# letter, columns French chapters 01-15 then English chapters 01-11 (the slide stops there). "?" marks the
# few cells the seed's text does not show legibly (rows printed on top of each other); they are skipped.
LECTURE_TABLE = """
a 2503 2992 1042 2487 2014 2805 5062 2643 2126 1784 2641 2766 5047 5312 1215 2217 2761  990 2274 1865 2606 4805 2396 1993 1627 2375
b  365  391  152  303  268  368  706  325  289  249  381  373  725  689  173  451  551  183  454  400  518  913  431  408  359  437
c  857 1006  326  864  645  910 1770  869  771  546  817  935 1730 1754  402  729  777  271  736  553  797 1521  702  653  451  643
d 1151 1388  489 1137  949 1266 2398 1085  920  805 1078 1237 2273 2149  582 1316 1548  557 1315 1135 1509 2681 1416 1096  933 1364
e 4312 4993 1785 4158 3394 4535 8512 4229 3599 3002 4306 4618 8678 8870 2195 3967 4543 1570 3814 3210 4237 7834 4014 3373 2690 3790
f  264  319  136  314  223  332  623  307  278  179  263  329  648  628  150  596  685  279  595  515  687 1366  621  575  477  610
g  349  360  122  331  215  384  622  317  289  202  277  350  566  630  134  662  769  253  559  525  669 1163  624  517  409  644
h  295  350  126  287  242  378  620  359  279  215  330  349  642  673  148 2060 2530  875 1978 1693 2254 4379 2171 1766 1475 2217
i 1945 2345  784 2028 1617 2219 4018 2102 1805 1319 1985 2273 3940 4278  969 1823 2163  783 1835 1482 2097 3838 2011 1648 1196 1830
j   65   81   41   57   67   97  126   85   52   60  114   65  140  143   27   22   13    4   22    7   26   42   24   16    7   16
k    ?    ?    ?    ?    ?    3   19    ?    ?    5    ?    2    ?    2    ?  200  284   82  198  153  216  416  216  146  131  217
l 1946 2128  816 1796 1513 1900 3726 1857 1499 1462 1886 1955 3746 3780  950 1204 1319  520 1073  949 1239 2434 1152  861  789 1122
m  726  823  397  722  651  841 1596  811  619  598  900  812 1597 1610  387  656  829  333  690  571  763 1461  748  629  506  799
n 1896 2308  778 1958 1547 2179 3851 2041 1711 1246 1966 2285 3984 4255  906 1851 2218  816 1771 1468 2174 3816 2085 1728 1266 1833
o 1372 1560  612 1318 1053 1569 2823 1367 1130  922 1356 1419 2736 2713  697 1897    ?  828 1865 1586 2231 4091 1947 1698 1369 1948
p  789  977  315  773  672  868 1532  833  651  557  763  865 1550 1599  417  525  606  194  514  517  613 1040  527  442  325  486
q  248  281  102  274  166  285  468  239  187  172  230  272  425  512  103   19   21    ?   33   17   25   39   33   20   23   23
r 1948 2376  792 2000 1601 2205 4015 2132 1719 1242 1912 2276 4081 4271  985 1764 2019  711 1726 1357 1931 3674 1915 1561 1211 1720
s 2996 3454 1174 2792 2192 3065 5634 2814 2404 1769 2564 3131 5599 5770 1395 1942 2411  864 1918 1646 2192 4060 1966 1626 1344 1945
t 1938 2411  856 2031 1736 2293 4116 2134 1763 1423 2218 2274 4387 4467 1037 2547 3083 1048 2704 2178 2955 5369 2765 2442 1759 2424
u 1792 2069  707 1734 1396 1895 3518 1788 1448 1191 1737 1923 3480 3697  893  704  861  298  745  663  899 1552  789  683  502  767
v  414  499  147  422  315  453  844  437  348  270  425  455  767  914  206  258  295   94  245  194  277  465  266  208  181  246
w    0    0    0    0    1    0    0    0    0    0    0    0    0    0    0  653  769  254  663  568  733 1332  695  560  410  632
x  129  175   42  138   83  151  272  135  119   65  114  149  288  283   63   29   37    8   60   26   49   74   65   25   31   20
y   94   89   31   81   67   80  148   64   58   61   61   98  119  145   36  401  475  145  467  330  464  843  379  328  255  457
z   20   23    7   27   18   39   71   30   20   11   25   37   41   41    3   18   31   15   19   33   37   52   24   18   20   39
à  128  136   39  110   90  131  246  130   90   73  101  129  209  224   48    0    0    0    0    0    0    0    0    0    0    0
â   36   50    9   43   67   42   50   43   24   18   40   33   55   75   20    0    0    0    0    0    0    0    0    0    0    0
æ    0    1    0    0    0    0    1    0    2    0    0    0    3    0    2    0    0    0    0    0    0    0    0    0    0    0
ç   35   28   10   22   24   30   46   34   16   16   34   23   61   56   17    0    0    0    0    0    0    0    0    0    0    0
è  102  147   49  138  112  122  232  119   99   68  108  151  237  260   58    0    0    0    0    0    0    0    0    0    0    0
é  423  513  194  424  367  548  966  502  370  304  438  480  940 1019  221    0    0    0    0    0    0    0    0    0    0    0
ê   43   68   24   36   44   57   96   54   43   53   68   60  126   94   32    0    0    0    0    0    0    0    0    0    0    0
ë    1    0    0    0    1    0    2    0    1    0    1    0    0    0    0    0    0    0    0    0    0    0    0    0    0    0
î   17   20   12   15   11   15   42   11    8   15   26   13   32   28   12    0    0    0    0    0    0    0    0    0    0    0
ï    2    0    0    2    8   12    9    1    2    5   15    3    5    2    0    0    0    0    0    0    0    0    0    0    0    0
ô   20   20   27   15   23   15   41   14   13   38   50   15   37   45   24    0    0    0    0    0    0    0    0    0    0    0
ù   14    9    4    6   18   14   30    6    5    3    7   11   24   21    7    0    0    0    0    0    0    0    0    0    0    0
û    7    9    7    4   15   15   38    8   15   10    9   14   30   21   11    0    0    0    0    0    0    0    0    0    0    0
œ    5    5    2    8    7    9    9    5    3    5    7    0   13   12    6    0    0    0    0    0    0    0    0    0    0    0
"""
LECTURE_CHAPTERS = [f"fr{i:02d}" for i in range(1, 16)] + [f"en{i:02d}" for i in range(1, 12)]


def lecture_cells():
    for line in LECTURE_TABLE.strip().splitlines():
        letter, *values = line.split()
        assert len(values) == len(LECTURE_CHAPTERS), letter
        for chapter, value in zip(LECTURE_CHAPTERS, values):
            if value != "?":
                yield chapter, letter, int(value)


@pytest.fixture(scope="module")
def counts(data_dir):
    return salammbo.letter_counts()


def test_letter_counts_equal_the_lecture_table(counts):
    cells = list(lecture_cells())
    assert len(cells) > 1000, "the transcription must cover nearly all of the 40 x 26 printed cells"
    wrong = [(c, x, v, counts.loc[c, x]) for c, x, v in cells if counts.loc[c, x] != v]
    assert not wrong, f"{len(wrong)} cells differ from the lecture (chapter, letter, lecture, computed): {wrong[:5]}"
    assert {letter for _, letter, _ in cells} == set(salammbo.LETTERS)


def test_letter_count_table_layout(counts):
    assert counts.shape == (30, 40)
    expected_rows = [f"{language}{i:02d}" for language in ("fr", "en") for i in range(1, 16)]
    assert list(counts.index) == list(salammbo.CHAPTERS) == expected_rows
    assert "".join(counts.columns) == salammbo.LETTERS == "abcdefghijklmnopqrstuvwxyzàâæçèéêëîïôùûœ"
    assert counts.index.name == "chapter" and counts.columns.name == "letter"
    assert all(dtype == np.int64 for dtype in counts.dtypes)
    assert counts.loc["fr01", "e"] == 4312 and counts.loc["en01", "e"] == 3967
    english_chapters = [c for c in counts.index if c.startswith("en")]
    assert (counts.loc[english_chapters, list(salammbo.ACCENTED_LETTERS)] == 0).all().all()


def test_counting_ignores_case(data_dir):
    text = salammbo.load_chapter("fr02")
    assert "À" in text and "Ç" in text and "E" in text, "the test needs capital letters in French chapter 2"
    english, french = salammbo.letter_counts("en"), salammbo.letter_counts("fr")
    assert list(french.index) == list(salammbo.CHAPTERS[:15]) and list(english.index) == list(salammbo.CHAPTERS[15:])
    for letter in "eàç":
        assert french.loc["fr02", letter] == text.count(letter) + text.count(letter.upper())
    two = salammbo.letter_counts("fr", letters="ça")
    assert list(two.columns) == ["ç", "a"] and two.loc["fr02", "ç"] == french.loc["fr02", "ç"]


def test_ae_counts_are_the_books_and_match_the_texts(counts):
    book = salammbo.load_ae_counts()
    assert list(book.index) == list(salammbo.CHAPTERS)
    assert list(book.columns) == ["language", "characters", "a", "e"]
    assert (book.language == [c[:2] for c in book.index]).all()
    assert (book[["a", "e"]] == counts[["a", "e"]]).all().all()
    assert book.loc["fr01", "characters"] == 36961 and book.loc["en01", "characters"] == 35680
    # The book counted characters on its own copy: close to, not equal to, the mirror's text lengths.
    lengths = np.array([len(salammbo.load_chapter(c)) for c in book.index])
    assert np.all(np.abs(book.characters.to_numpy() - lengths) < 0.01 * lengths)


def test_bad_arguments_are_clear_errors(data_dir):
    with pytest.raises(ValueError, match="unknown chapter 'fr16'"):
        salammbo.load_chapter("fr16")
    with pytest.raises(ValueError, match="language='de'"):
        salammbo.load_texts("de")
    with pytest.raises(ValueError, match="distinct lowercase"):
        salammbo.letter_counts(letters="aA")


def test_offline_miss_names_the_file_the_variable_and_the_upstream(empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    with socket.socket() as s:  # a port nobody listens on: refused at once, offline or not
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    original = salammbo.CHAPTER_FILES["fr03"]
    monkeypatch.setitem(salammbo.CHAPTER_FILES, "fr03", dataclasses.replace(original, urls=(dead + original.name,)))
    with pytest.raises(DatasetNotFoundError) as error:
        salammbo.load_chapter("fr03")
    message = str(error.value)
    assert "salammbo_ch03.txt" in message and "COURSE_DATA_DIR" in message and dead in message


def test_upstreams_are_pinned_to_the_recorded_commits():
    for file in list(salammbo.CHAPTER_FILES.values()) + list(salammbo.COUNT_FILES.values()):
        assert file.urls and all(u.startswith("https://raw.githubusercontent.com/pnugues/") for u in file.urls)
        assert all(u.endswith("/" + file.name) for u in file.urls)
        assert all(len(part) == 40 for u in file.urls for part in u.split("/")[5:6]), "a commit, not a branch"


def test_tokenize_keeps_letters_only():
    assert tokenize("Hamilcar's gardens, in 241 B.C.!") == ["hamilcar", "s", "gardens", "in", "b", "c"]
    assert tokenize("C'était à Mégara") == ["c", "était", "à", "mégara"]


def test_vocabulary_is_ranked_by_frequency_then_alphabet():
    docs = [["b", "a", "c", "a"], ["c", "d", "a"]]
    assert vocabulary(docs) == ["a", "c", "b", "d"]
    assert vocabulary(docs, min_count=2) == ["a", "c"]
    assert vocabulary(docs, max_size=1) == ["a"]
    with pytest.raises(ValueError, match="min_count"):
        vocabulary(docs, min_count=0)
    with pytest.raises(TypeError, match="tokenized"):
        vocabulary(["a text, not tokens"])


def test_cooccurrence_counts_by_hand():
    toy = tokenize("The cat sat on the mat. The dog sat on the log.")
    words = ["the", "on", "sat", "cat", "dog", "log", "mat"]
    counts = cooccurrence_counts([toy], words, window=1)
    # Neighbours of "sat": cat, on (first time) and dog, on (second time).
    sat = dict(zip(words, counts[words.index("sat")].tolist()))
    assert sat == {"the": 0, "on": 2, "sat": 0, "cat": 1, "dog": 1, "log": 0, "mat": 0}
    assert counts.sum() == 2 * (len(toy) - 1) and (counts == counts.T).all()
    wide = cooccurrence_counts([toy], words, window=2)
    assert wide[words.index("cat"), words.index("on")] == 1
    assert wide.sum() == 2 * (len(toy) - 1) + 2 * (len(toy) - 2)


def test_windows_skip_unknown_words_but_keep_their_positions_and_stop_at_documents():
    counts = cooccurrence_counts([["a", "x", "b"], ["b", "a"]], ["a", "b"], window=1)
    assert counts.tolist() == [[0, 1], [1, 0]], "only the second document has a and b side by side"
    counts = cooccurrence_counts([["a", "x", "b"]], ["a", "b"], window=2)
    assert counts.tolist() == [[0, 1], [1, 0]]


def test_contexts_may_differ_from_words():
    counts = cooccurrence_counts([["a", "b", "c", "a"]], ["a"], window=1, contexts=["b", "c"])
    assert counts.shape == (1, 2) and counts.tolist() == [[1, 1]]
    with pytest.raises(ValueError, match="window"):
        cooccurrence_counts([["a"]], ["a"], window=0)
    with pytest.raises(ValueError, match="duplicates"):
        cooccurrence_counts([["a"]], ["a", "a"])
    assert cooccurrence_counts([["a"], []], ["a"]).tolist() == [[0]]


def test_sparse_counts_of_encoded_texts_equal_the_dense_counts():
    from course.cooccurrence import sparse_cooccurrence_counts

    documents = [tokenize("the cat sat on the mat and the dog sat on the cat"), tokenize("a dog, a cat; the end")]
    words = vocabulary(documents)
    known = [w for w in words if w != "end"]
    dense = cooccurrence_counts(documents, known, window=3)
    ids = [[known.index(w) if w in known else -1 for w in d] for d in documents]
    counts = sparse_cooccurrence_counts(ids, len(known), window=3)
    assert counts.shape == dense.shape and counts.dtype == np.int64
    np.testing.assert_array_equal(counts.toarray(), dense)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        sparse_cooccurrence_counts([[0, len(known)]], len(known))
    with pytest.raises(ValueError, match="window=0"):
        sparse_cooccurrence_counts(ids, len(known), window=0)


def test_positive_pmi_by_hand_and_sparse_equals_dense():
    from scipy import sparse

    from course.cooccurrence import positive_pmi

    counts = np.array([[0, 2, 1], [2, 0, 0], [1, 0, 4]])
    expected = np.zeros((3, 3))
    total, rows = counts.sum(), counts.sum(axis=1)
    for i, j in zip(*np.nonzero(counts)):
        expected[i, j] = max(0.0, np.log2(total * counts[i, j] / (rows[i] * rows[j])))
    np.testing.assert_allclose(positive_pmi(counts), expected)
    np.testing.assert_allclose(positive_pmi(sparse.csr_matrix(counts)).toarray(), expected)
    assert (expected > 0).sum() < np.count_nonzero(counts), "a pair seen less often than chance is clipped to 0"
    with pytest.raises(ValueError, match="negative"):
        positive_pmi(-counts)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """The attacks of tests/attacks.py on this lab, graded end to end by the batch grader (one batch)."""
    import nbformat

    from autograder import pipeline, sandbox
    from autograder.submissions import Incoming
    from tests import attacks

    release = nbformat.read(pipeline.LABS / "salammbo" / "salammbo.ipynb", as_version=4)
    incoming = [Incoming(attack, nbformat.writes(nb).encode(), "attack")
                for attack, nb in attacks.notebooks("salammbo", release).items()]
    batch = pipeline.grade_batch("salammbo", incoming, grading_dir=tmp_path_factory.mktemp("salammbo-attacks"),
                                 workers=2, limits=sandbox.Limits(cell_timeout=60, notebook_timeout=300),
                                 feedback=False, progress=False)
    return {r.student: r for r in batch.results}


def test_attacks_on_the_grader_earn_exactly_their_honest_score(attacked):
    """Issue 15: forged replies, a transformer object and patched NumPy dispatchers earn what the same
    answers earn without the attack (all raise: 0; blank: 0; the wrong answers' own score)."""
    scores = {student: (r.score, r.max_score) for student, r in attacked.items()}
    honest = attacked["wrong"]
    assert honest.max_score == 18 and honest.score < 3, [(t.grade_id, t.status) for t in honest.tests]
    assert scores == {"forger": (0, 18), "transformer": (0, 18), "dispatchers": (honest.score, 18),
                      "wrong": (honest.score, 18)}, scores
    assert [t.status for t in attacked["dispatchers"].tests] == [t.status for t in honest.tests]
    assert "suspicious:hooks" in attacked["transformer"].flags
    for result in attacked.values():
        assert not any(f.startswith(("grader-error", "grader-timeout", "execution-error")) for f in result.flags)

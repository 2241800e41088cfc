"""Gustave Flaubert's *Salammbô* (1862): the 15 chapters in French and in English, and their letter counts.

The texts are the chapter files of Pierre Nugues's course repositories (French as on Wikisource, a
19th-century English translation; public domain). The letter counts are those of his EDAN95 lecture on
dimension reduction: 30 chapters by the 40 letters a-z and the 14 French accented letters, counted
case-insensitively; they are computed here from the texts, never copied. The book the lecture comes
from (*Language Processing with Perl and Prolog*, chapter 4) also publishes per-chapter counts of
``a`` and ``e`` with the chapter lengths, used there to classify a chapter's language: see
:func:`load_ae_counts`.

Chapters are named ``fr01`` ... ``fr15`` and ``en01`` ... ``en15``, French first, as in the lecture.
"""

from __future__ import annotations

from ._files import DataFile, fetch

DATASET = "salammbo"
LANGUAGES = ("fr", "en")
CHAPTER_NUMBERS = tuple(range(1, 16))
CHAPTERS = tuple(f"{language}{number:02d}" for language in LANGUAGES for number in CHAPTER_NUMBERS)
# The lecture's 40 characters: a-z, then the French accented letters in the lecture's order.
ACCENTED_LETTERS = "àâæçèéêëîïôùûœ"
LETTERS = "abcdefghijklmnopqrstuvwxyz" + ACCENTED_LETTERS

# Commit-pinned upstreams, so that the recorded checksums stay valid.
_GITHUB = "https://raw.githubusercontent.com/pnugues/"
_PNLP = _GITHUB + "pnlp/265809f170f9f9fe166faa4b95210d1e9a251711/datasets/salammbo_chapters/"
_ILPPP = _GITHUB + "ilppp/06d8948c0d4801cbcbbd84cb5dd54c5a79d166e8/programs/"
_ILPPP_CHAPTERS = _ILPPP + "corpus/Salammbo/"  # byte-identical copies, except en01 (which has a BOM there)
_ILPPP_COUNTS = _ILPPP + "ch04/salammbo/"

_CHAPTER_SHA256 = {
    "fr01": "0c539f252ab4f702602b85e2698a1f4fd26f81feecfbe13e904f78ebe2bc689b",
    "fr02": "1a7ed74334b0bd789cb6379353cc2e2793ecfa2f7968bc3c3cecaed3ef561db0",
    "fr03": "b07be0dcd45a6f930438f2975bf96206b33441c3c8b86b736a84095f3713a15c",
    "fr04": "344de72248b5b5d479ea2501f2360b72c902a38410d8b8a579bbfb158362cced",
    "fr05": "17d9c2513087fd491fcae94fc13ab9b18a0b7278a0c9f6c06c7a250691db4b14",
    "fr06": "97214c8de7562e8e332ad1db7fbb093126f09618ba19e755229e8d55df73ebf7",
    "fr07": "35cff49182d2a8c4ad86ea595260bfb6eba672f1680d683b467a72458b1a558b",
    "fr08": "34d02d6c636223592e9307f9e4bf96979fb62d63b0bc189086def233010de458",
    "fr09": "f443f00eb708cfd9120dddaeb0fab4f895788c84b31e5a6064fce51523871673",
    "fr10": "bfb1d04a21a032b95e6fc58f46c300db6973318dfffea5df004d74be2b3ae02b",
    "fr11": "18f5c5addbca88f5cb8444c1a2cabb92664744f7acd3abe92f6faf4b0a0d9036",
    "fr12": "ca08c710a33482759f7456343ddc5afdeb867d36863fce6808b67cd4962fe696",
    "fr13": "6497baffdc7a6457664d1c33e44d0e8287e2b5b8db13cc2d047fc1257deb9de5",
    "fr14": "09c6712710b9b6acaa97a9beccd64e26338b9fb8aea68136fbc36a847419f02a",
    "fr15": "7fe73d562113ea637bda63909af5118e44a7eff8fff3d23de96c20e55e61bdeb",
    "en01": "72b3572a405baddb017bcc4951f414fd55078882e36da2cfb6f032d14464f1ff",
    "en02": "01198ad641d021d2062a6cf378b44010568deaa90590d313c60856e5dbb77da4",
    "en03": "e21e5d37821a94c0b2392a81c2bcdc87794f958344d4e5543fbbb33111e09154",
    "en04": "ce5bd0b179adf07afb09e445a8d23bd4f3c7aa0385cbe9a61b187d83bc48f25e",
    "en05": "1a392e38af3f2e9d66903ccb6d82fd8ce0302fbb41a72e2856b635e5fe812bd6",
    "en06": "20ab2a56f2512e9bc439fb2c0b04c6907146e2f638eb686ce1f855323739c681",
    "en07": "7b42108d11a4878604e950939a08dfaf8f9a84cb53706edebd8142af551edf12",
    "en08": "5791065115455ccc4b34ddc0b447952ba75d904d5095b1f7e5a7c19da5c486c4",
    "en09": "32948f0ef8e6d189d20089d1083ee3b6aa74ba0a0c699ff0cdb16d9205ce0212",
    "en10": "afd7bcadeb5c8065fa8cca7d57b83993f149faaefc81b9fff44bc180a6155bf0",
    "en11": "8b841e2430616e167dc378f04890c6628e79f644f256a8c7ab59e25a1953b25c",
    "en12": "6d6fdc2802a6972a9e3a06233a07f030834ee467c61226e1267b0421777591d9",
    "en13": "d9273cffd7b9742e951089872150043c1cca0a582828ab8a5ee2722cc5d06d85",
    "en14": "1b80ba25ce948317bdd976691f8cea7a5f649c3673ab09ed6952cbef80a1b44f",
    "en15": "286be0dc92c27033123d94cfd44bb0e16d5b0568f51242047854740b94d63dfb",
}


def _chapter_file(chapter: str) -> DataFile:
    language, number = chapter[:2], chapter[2:]
    name = f"salammbo_ch{number}.txt" if language == "fr" else f"salammbo_en_ch{number}.txt"
    return DataFile(name, _CHAPTER_SHA256[chapter], (_PNLP + name, _ILPPP_CHAPTERS + name))


def _counts_file(name: str, sha256: str) -> DataFile:
    return DataFile(name, sha256, (_ILPPP_COUNTS + name,))


CHAPTER_FILES = {chapter: _chapter_file(chapter) for chapter in CHAPTERS}
# The book's tables: one line per chapter, "<characters>\t<count of the letter>".
COUNT_FILES = {
    ("a", "fr"): _counts_file("salammbo_a_fr.tsv", "cd3b882c126dedae0d5b3e95b31e03aaf8aca88348f61bb5c9070d15467a322f"),
    ("a", "en"): _counts_file("salammbo_a_en.tsv", "3a04a17a8847b8a986db0c3e0fe0d447c106e276c6299807f9e4cc94bfa386f9"),
    ("e", "fr"): _counts_file("salammbo_e_fr.tsv", "e29060ad3052711c2c35c943db46e066e80be4489a8f8e15ede396fe9b77ce59"),
    ("e", "en"): _counts_file("salammbo_e_en.tsv", "2928a9303c4486c5b2e34fc4ba5bd369224ce1d9f0f0ce554cef55b90ef2c327"),
}


def _check_language(language: str | None) -> tuple[str, ...]:
    if language is None:
        return LANGUAGES
    if language not in LANGUAGES:
        raise ValueError(f"language={language!r}: Salammbô is available in {' and '.join(map(repr, LANGUAGES))}")
    return (language,)


def load_chapter(chapter: str) -> str:
    """The text of one chapter, e.g. ``load_chapter("fr01")`` (French) or ``load_chapter("en15")``."""
    if chapter not in CHAPTER_FILES:
        raise ValueError(f"unknown chapter {chapter!r}: use one of {CHAPTERS[0]} ... {CHAPTERS[14]}, "
                         f"{CHAPTERS[15]} ... {CHAPTERS[-1]}")
    return fetch(DATASET, CHAPTER_FILES[chapter]).read_text(encoding="utf-8")


def load_texts(language: str | None = None) -> dict[str, str]:
    """``{chapter: text}`` for every chapter of one language (``"fr"`` or ``"en"``) or of both (French first)."""
    languages = _check_language(language)
    return {chapter: load_chapter(chapter) for chapter in CHAPTERS if chapter[:2] in languages}


def _count_letters(text: str, letters: str) -> list[int]:
    """How often each of ``letters`` occurs in ``text``, ignoring case (``É`` counts as ``é``)."""
    lowered = text.lower()
    return [lowered.count(letter) for letter in letters]


def letter_counts(language: str | None = None, letters: str = LETTERS):
    """The lecture's table as a pandas DataFrame: one row per chapter, one column per letter.

    Rows ``fr01`` ... ``fr15`` then ``en01`` ... ``en15`` (or one language's 15), columns the 40
    ``LETTERS`` (a-z and the 14 French accented letters), integer counts computed from the texts,
    case-insensitively.
    """
    import pandas as pd

    if not letters or len(set(letters)) != len(letters) or any(c != c.lower() or len(c) != 1 for c in letters):
        raise ValueError(f"letters={letters!r}: give distinct lowercase characters")
    texts = load_texts(language)
    table = pd.DataFrame(
        [_count_letters(text, letters) for text in texts.values()],
        index=pd.Index(list(texts), name="chapter"),
        columns=pd.Index(list(letters), name="letter"),
        dtype="int64",
    )
    return table


def load_ae_counts():
    """The book's per-chapter counts of ``a`` and ``e`` (the data of its language classifier).

    A DataFrame indexed by chapter (``fr01`` ... ``en15``) with columns ``language`` (``"fr"``/``"en"``),
    ``characters`` (the chapter's length in characters, as counted in the book on its own copy of the
    text, so a little different from ``len(load_chapter(...))``), ``a`` and ``e``. The ``a``/``e`` columns
    equal :func:`letter_counts` on the texts.
    """
    import pandas as pd

    rows = []
    for language in LANGUAGES:
        columns = {}
        for letter in "ae":
            path = fetch(DATASET, COUNT_FILES[letter, language])
            lines = [line.split("\t") for line in path.read_text(encoding="ascii").split("\n") if line.strip()]
            if len(lines) != len(CHAPTER_NUMBERS) or any(len(fields) != 2 for fields in lines):
                raise ValueError(f"{path}: expected {len(CHAPTER_NUMBERS)} lines '<characters>\\t<count>'")
            columns["characters", letter] = [int(total) for total, _ in lines]
            columns[letter] = [int(count) for _, count in lines]
        if columns["characters", "a"] != columns["characters", "e"]:
            raise ValueError(f"the a and e tables of '{language}' disagree on the chapter lengths")
        for i, number in enumerate(CHAPTER_NUMBERS):
            rows.append({
                "chapter": f"{language}{number:02d}",
                "language": language,
                "characters": columns["characters", "a"][i],
                "a": columns["a"][i],
                "e": columns["e"][i],
            })
    return pd.DataFrame(rows).set_index("chapter")

"""The iteration order of a CPython 2.7 ``dict`` of strings, replayed in Python 3.

Keras's Reuters word index (2015) ranks words by count and leaves equal counts in the order in which
its Python 2 ``dict`` of word counts iterated: the order of the slots of its hash table. That order
follows from CPython 2.7's string hash (no randomization, 64-bit ``long``) and its open addressing
(``Objects/dictobject.c``: 8 slots to start, probing ``i = 5 * i + perturb + 1`` with
``perturb >>= 5``, and a resize to the smallest power of two above 4 x used (2 x above 50,000 entries)
whenever two thirds of the slots are filled). Replaying the insertions gives that order exactly.
"""

from __future__ import annotations

_MASK64 = (1 << 64) - 1


def py2_string_hash(text: str) -> int:
    """``hash(text)`` of a Python 2.7 byte string on a 64-bit build (characters taken as bytes)."""
    if not text:
        return 0
    value = (ord(text[0]) << 7) & _MASK64
    for character in text:
        value = ((1000003 * value) & _MASK64) ^ ord(character)
    value ^= len(text)
    if value >= 1 << 63:  # C long
        value -= 1 << 64
    return -2 if value == -1 else value


def _free_slot(table: list, mask: int, hashed: int) -> int:
    slot = hashed & mask
    if table[slot] is None:
        return slot
    index, perturb = slot, hashed & _MASK64
    while True:
        index = (5 * index + perturb + 1) & _MASK64
        slot = index & mask
        if table[slot] is None:
            return slot
        perturb >>= 5


def py2_dict_order(keys: list[str]) -> list[str]:
    """The order in which a Python 2.7 dict iterates these distinct keys, inserted in this order."""
    table: list = [None] * 8
    used = 0
    for key in keys:
        hashed = py2_string_hash(key)
        table[_free_slot(table, len(table) - 1, hashed)] = (hashed, key)
        used += 1
        if used * 3 >= len(table) * 2:  # no deletions, so fill == used
            wanted = (2 if used > 50_000 else 4) * used
            size = 8
            while size <= wanted:
                size <<= 1
            old, table = table, [None] * size
            for entry in old:  # re-inserted in slot order, as dictresize does
                if entry is not None:
                    table[_free_slot(table, size - 1, entry[0])] = entry
    return [entry[1] for entry in table if entry is not None]

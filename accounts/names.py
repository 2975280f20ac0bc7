"""Names people could take for one another: skeletons, equal for look-alike names.

A name's skeleton is UTS #39's (Unicode Technical Standard 39): every character
replaced by the prototype it can be confused with, so "Аlice" (a Cyrillic А),
"ａｌｉｃｅ" and "rnary" have the skeletons of "Alice", "alice" and "mary". The data is
Unicode's confusables.txt as the confusable-homoglyphs package ships it; that package
has no skeleton function and stores each pair both ways, so `_prototypes` recovers
the direction: in confusables.txt every character that maps goes to a prototype that
does not map itself, so the prototype is the one member of its group paired with all
the others.

Comparing without regard to case takes two skeletons, and two names clash when any of
their skeletons are equal:
- the skeleton of the case-folded name ("ALICE" and "alice"; "Аlice" and "alice");
- the case-folded skeleton of the name as written, skeletoned again: a capital that
  looks like a Latin capital has a small letter that need not look like the Latin one
  (Cyrillic В, в), and a capital I looks like a small l ("PayPaI").
"""

import unicodedata
from functools import cache

LEFT_TO_RIGHT_MARK = "\u200e"  # the package's data wraps right-to-left text in it


@cache
def _prototypes() -> dict[str, str]:
    """Each character confusables.txt maps → its prototype (one or more characters)."""
    from confusable_homoglyphs.confusables import confusables_data  # 0.9 MB: on first use

    pairs: dict[str, set[str]] = {}
    for text, entries in confusables_data.items():
        text = text.replace(LEFT_TO_RIGHT_MARK, "")
        for entry in entries:
            other = entry["c"].replace(LEFT_TO_RIGHT_MARK, "")
            pairs.setdefault(text, set()).add(other)
            pairs.setdefault(other, set()).add(text)
    prototypes = {}
    for char, others in pairs.items():
        if len(char) != 1 or len(others) != 1:
            continue  # a prototype of several characters, or paired with several
        (other,) = others
        # The other is the prototype; or, in a pair of two, either will do: the lower.
        if len(other) > 1 or len(pairs[other]) > 1 or other < char:
            prototypes[char] = other
    # A prototype is spelled in prototypes too (it matters for the pairs of two only).
    return {char: _replaced(proto, prototypes) for char, proto in prototypes.items()}


def _replaced(text: str, prototypes: dict[str, str]) -> str:
    text = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in text))


def skeleton(text: str) -> str:
    """UTS #39's skeleton, case kept."""
    return _replaced(text, _prototypes())


def name_skeletons(name: str) -> tuple[str, str]:
    """The two skeletons by which names clash without regard to case (("", "") for a
    blank name): of the case-folded name, and of the name as written (module doc)."""
    name = " ".join(unicodedata.normalize("NFKC", name).split())
    return skeleton(name.casefold()), skeleton(skeleton(name).casefold())

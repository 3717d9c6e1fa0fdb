"""Text as messages show it, and the one list of titles that never end a sentence or a clause."""
from __future__ import annotations

import re

# Titles written with a full stop ("Mme. Dufour"): every stage keeps a title with the name after it, so a
# sentence, a clause, a caption or a subtitle line never ends on one.
TITLES: tuple[str, ...] = ("Mr", "Mrs", "Ms", "Dr", "St", "Messrs", "Mme", "Mlle", "Mmes", "Mlles", "Prof", "Rev",
                           "Capt", "Col", "Gen", "Lt", "Sgt")
# Forms of address spelled out in full: like a title they belong to the name after them ("Lady Lucas").
RANKS: tuple[str, ...] = ("Miss", "Sir", "Lady", "Lord", "Colonel", "Captain")
# A regex of any title without its full stop, longest first so that "Mrs" is tried before "Mr".
TITLE = "(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + ")"
# A regex of any word that may come before a name: a title (its full stop optional) or a rank.
NAME_PREFIX = "(?:" + "|".join(sorted(TITLES + RANKS, key=len, reverse=True)) + r")\.?"
# A regex lookbehind that fails right after a title's full stop: put it after the "." that might end something.
NOT_AFTER_TITLE = "".join(rf"(?<!\b{title}\.)" for title in TITLES)

# Units written with a full stop. pysbd ends a sentence after one even in "12 lbs. of flour". Followed by a
# capital ("he carried 12 lbs. Flour was dear.") a unit may end the sentence or not; the rule here: a capital
# letter starts a new sentence, anything else (a small letter, a digit: "5 lbs. 3 oz.") carries it on.
UNITS: tuple[str, ...] = ("lb", "lbs", "oz")

_ENDS_ON_TITLE = re.compile(rf"\b{TITLE}\.$")
_ENDS_ON_UNIT = re.compile(r"\b(?:" + "|".join(UNITS) + r")\.$")
_FIRST_WORD_CHARACTER = re.compile(r"\w")


def shorten(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis where it was longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def continues(sentence: str, following: str) -> bool:
    """Whether a sentence splitter was wrong to end ``sentence`` before ``following``: it ends on a title, or
    on a unit ("lbs.") with ``following`` not starting with a capital letter."""
    sentence = sentence.rstrip()
    if _ENDS_ON_TITLE.search(sentence):
        return True
    first = _FIRST_WORD_CHARACTER.search(following)
    return bool(_ENDS_ON_UNIT.search(sentence)) and not (first and first.group().isupper())

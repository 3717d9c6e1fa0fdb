"""Sentences as an English narrator reads them aloud: years, sums of money, chapter and regnal numerals.

The voices' phonemizer (espeak-ng) reads "1887" as "one thousand eight hundred eighty seven", "£3.50" as
"pound three point five zero", "George III" as "George roman three" and "No. 7" as "no" and a full stop.
``spoken`` rewrites those few forms in words before synthesis; everything else (ordinals, percentages,
times, plain numbers) the phonemizer already reads well. Subtitles keep the text as written.
"""
from __future__ import annotations

import re

_CURRENCY = {"£": ("pound", "pounds", "penny", "pence"), "$": ("dollar", "dollars", "cent", "cents"),
             "€": ("euro", "euros", "cent", "cents")}
_MONEY = re.compile(r"([£$€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d\d))?(?![\d.,]*\d)")
_DECADE = re.compile(r"(?<![\d£$€.,])\b(1\d\d0|20\d0)s\b")
_YEAR = re.compile(r"(?<![\d£$€.,:/])\b(1\d\d\d|20\d\d)\b(?![.,:/]?\d|%)")
_NUMBER_SIGN = re.compile(r"\bNo\.\s?(?=\d)")
_ROMAN = r"(?=[IVXLC]+\b)C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
# Headings count (Chapter twelve; a lone L or C is a letter there); a ruler's numeral is an ordinal (George the
# Third), never a lone I, X, L or C ("Then I", "Malcolm X").
_HEADING = re.compile(rf"\b(Chapter|Book|Part|Volume|Act|Scene|Canto|Letter|Section|Appendix|War)\s+(?!L\b|C\b)({_ROMAN})\b")
_REGNAL = re.compile(rf"\b([A-Z][a-z]+)\s+(?!I\b|X\b|L\b|C\b)({_ROMAN})\b")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(numeral: str) -> int:
    """The value of a well-formed Roman numeral (subtractive pairs like IV and XC)."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _words(number: int, to: str = "cardinal") -> str:
    from num2words import num2words

    return num2words(number, to=to, lang="en")


def _money(match: re.Match[str]) -> str:
    one, many, small, smalls = _CURRENCY[match[1]]
    whole, cents = int(match[2].replace(",", "")), int(match[3] or 0)
    said = f"{_words(whole)} {one if whole == 1 else many}" if whole or not cents else ""
    if cents:
        said += f"{' and ' if said else ''}{_words(cents)} {small if cents == 1 else smalls}"
    return said


def _decade(match: re.Match[str]) -> str:
    year = _words(int(match[1]), "year")
    return year[:-1] + "ies" if year.endswith("y") else year + "s"


def spoken(sentence: str) -> str:
    """``sentence`` with its years, sums of money, numbered headings, regnal numerals and "No." in words."""
    text = _MONEY.sub(_money, sentence)
    text = _DECADE.sub(_decade, text)
    text = _YEAR.sub(lambda m: _words(int(m[1]), "year"), text)
    text = _NUMBER_SIGN.sub("Number ", text)
    text = _HEADING.sub(lambda m: f"{m[1]} {_words(roman_value(m[2]))}", text)
    return _REGNAL.sub(lambda m: f"{m[1]} the {_words(roman_value(m[2]), 'ordinal').capitalize()}", text)

"""Sentences as an English narrator reads them aloud: years, sums of money, chapter and regnal numerals.

The voices' phonemizer (espeak-ng) reads "1887" as "one thousand eight hundred eighty seven", "£3.50" as
"pound three point five zero", "George III" as "George roman three" and "No. 7" as "no" and a full stop.
``spoken`` rewrites those few forms in words before synthesis, a four-digit number only where the words
before it say it is a year ("in 1887", "May 1811"); everything else (ordinals, percentages, times, plain
numbers) the phonemizer already reads well. Subtitles keep the text as written.
"""
from __future__ import annotations

import re

_CURRENCY = {"£": ("pound", "pounds", "penny", "pence"), "$": ("dollar", "dollars", "cent", "cents"),
             "€": ("euro", "euros", "cent", "cents")}
_SCALES = {"k": "thousand", "m": "million", "bn": "billion"}
_SCALED_MONEY = re.compile(r"([£$€])\s?(\d{1,3}(?:\.\d{1,3})?)\s?(k|m|bn|thousand|million|billion)\b")  # £2.5m
_MONEY = re.compile(r"([£$€])\s?(\d{1,3}(?:,\d{3}){0,4}|\d{1,15})(?:\.(\d\d))?(?![\d.,]*\d|\w)")
_NUMBER_SIGN = re.compile(r"\bNo\.\s?(?=\d)")
_DECADE = re.compile(r"(?<![\d£$€.,])\b(1\d\d0|20\d0)s\b")
# A four-digit number is a year after words that introduce one ("in 1887", "May 1811") or before an era.
_YEAR_BEFORE = (r"(?i:in|since|by|until|till|from|of|year|summer|winter|spring|autumn|circa|c\.|around|before|after"
                r"|during|between|early|late|mid-?)|January|February|March|April|May|June|July|August|September"
                r"|October|November|December")
_YEAR = re.compile(rf"(\b(?:{_YEAR_BEFORE}),?\s+)(1\d\d\d|20\d\d)\b(?![.,:/]?\d|%)"
                   r"|\b(1\d\d\d|20\d\d)(?=\s?(?:AD|BC|CE|BCE|A\.D\.|B\.C\.)(?!\w))")
# A valid numeral of at least one letter, standing alone as a word.
_ROMAN = r"(?=[IVXLC]+\b)C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})(?<=[IVXLC])"
# Headings and kinds count (Chapter twelve, Type two): not a lone L or C (a letter: Section C), nor a lone I
# running on into a word (the pronoun: "After the War I went").
_HEADINGS = ("Chapter|Book|Part|Volume|Act|Scene|Canto|Letter|Section|Appendix|War|Type|Stage|Phase|Class|Article"
             "|Psalm|Title|Level|Grade|Round|Form|Plate|Figure|Table")
_HEADING = re.compile(rf"\b({_HEADINGS})\s+(?!L\b|C\b|I\s+\w)({_ROMAN})\b")
# A ruler's numeral is an ordinal (George the Third): I, V and X letters only, never a lone I or X ("Then I",
# "Malcolm X"), not an initial ("Ronald V. Dellums"), not after a word that starts a sentence ("Then VI said").
_REGNAL = re.compile(r"\b(?!(?:Then|The|And|But|When|If|So|As|In|On|At|By|For|Of|To|With|Did|Do|Was|Is|Are|Were|He"
                     r"|She|We|They|You|It|This|That|There|Here|Now|Or|Not|No|My|His|Her|Our|Their|After|Had|Has|Have"
                     r"|Will|Would|Could|May|Must|Can|Let|See|Send|Buy|Use|Get|Take|Make|Give)\b)([A-Z][a-z]+)\s+"
                     r"(?!I\b|X\b)((?=[IVX]+\b)(?:IX|IV|X{0,3}(?:IX|IV|V?I{0,3}))(?<=[IVX]))\b(?!\.\s*[A-Z][a-z])")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(numeral: str) -> int:
    """The value of a well-formed Roman numeral (subtractive pairs like IV and XC)."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _words(number: int | float, to: str = "cardinal") -> str:
    from num2words import num2words

    return num2words(number, to=to, lang="en")


def _money(match: re.Match[str]) -> str:
    one, many, small, smalls = _CURRENCY[match[1]]
    whole, cents = int(match[2].replace(",", "")), int(match[3] or 0)
    said = f"{_words(whole)} {one if whole == 1 else many}" if whole or not cents else ""
    if cents:
        said += f"{' and ' if said else ''}{_words(cents)} {small if cents == 1 else smalls}"
    return said


def _scaled_money(match: re.Match[str]) -> str:
    amount = float(match[2]) if "." in match[2] else int(match[2])
    return f"{_words(amount)} {_SCALES.get(match[3], match[3])} {_CURRENCY[match[1]][1]}"


def _year(match: re.Match[str]) -> str:
    if match[3] is not None:  # before an era
        return _words(int(match[3]), "year")
    return match[1] + _words(int(match[2]), "year")


def _decade(match: re.Match[str]) -> str:
    year = _words(int(match[1]), "year")
    return year[:-1] + "ies" if year.endswith("y") else year + "s"


def spoken(sentence: str) -> str:
    """``sentence`` with its sums of money, "No.", decades, years, numbered headings and regnal numerals in words."""
    text = _SCALED_MONEY.sub(_scaled_money, sentence)
    text = _MONEY.sub(_money, text)
    text = _NUMBER_SIGN.sub("Number ", text)
    text = _DECADE.sub(_decade, text)
    text = _YEAR.sub(_year, text)
    text = _HEADING.sub(lambda m: f"{m[1]} {_words(roman_value(m[2]))}", text)
    return _REGNAL.sub(lambda m: f"{m[1]} the {_words(roman_value(m[2]), 'ordinal').capitalize()}", text)

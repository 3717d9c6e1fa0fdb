"""Text analysis for the rules screenwriter: paragraphs, sentences, quotations and who speaks."""
from __future__ import annotations

import math
import re
from itertools import pairwise

from pysbd import Segmenter

from stages.contracts import Character
from stages.text import NAME_PREFIX, continues

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SHORT_WEIGHT = 4.0  # a too-short group costs this many extra groups per squared unit it lacks
_OPENERS, _CLOSERS = '"“', '"”'
_WORD = re.compile(r"[^\W_]")  # a letter or a digit: something a narrator can say
# Marks no decorative break is made of: quotation marks and sentence punctuation. A wordless paragraph with one
# of these (a lone quote mark, a speechless "?", a pause "…") is dropped; one of ornaments only ("* * *", "⁂", "§",
# "❦", "—", a row of dashes, "#", "~" or "=") is a scene break.
_NOT_ORNAMENTS = frozenset("\"'“”‘’«»„‚‹›?!.…,;:()[]")
_WRAPPED_DASH = re.compile(r"\s*[-—–]{1,2}\s*")  # alone on a line inside a paragraph: prose wrapped there, no break
PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "they", "them", "their", "i", "me", "you", "we", "it"})
SPEECH_VERBS = (
    "said", "says", "replied", "returned", "cried", "answered", "asked", "exclaimed", "continued",
    "added", "observed", "remarked", "whispered", "shouted", "called", "rejoined", "resumed",
    "repeated", "muttered", "murmured", "declared", "inquired", "enquired", "retorted", "responded",
    "interrupted", "protested", "insisted", "explained", "pursued", "sighed", "began",
)
_VERB = re.compile(r"\b(?:" + "|".join(SPEECH_VERBS) + r")\b", re.IGNORECASE)
_PRONOUN_AFTER = re.compile(r"^\s*(he|she)\b", re.IGNORECASE)
_PRONOUN_BEFORE = re.compile(r"\b(he|she)\s*$", re.IGNORECASE)
_NAME = rf"(?:{NAME_PREFIX}\s+)?[A-Z][a-z]+"  # "Lydia", "Mr. Hale", "Lady Lucas"
_NAME_AFTER = re.compile(rf"^\s*({_NAME})")
_NAME_BEFORE = re.compile(rf"(?:^|[\s,;])({_NAME})\s*$")
_NOT_NAMES = PRONOUNS | {"this", "that", "then", "there", "so", "and", "but", "now", "here", "well", "yes", "no", "oh"}
_VOCATIVE_LEAD = re.compile(r"(?:^[\"“]|,)\s*(?:(?:my\s+)?(?:dear|dearest)\s+|oh,?\s+)?$", re.IGNORECASE)
_MALE = frozenset({"mr", "mr.", "mister", "sir", "lord", "master", "father", "uncle", "husband", "son", "brother",
                   "man", "gentleman", "boy", "king", "prince", "he", "his", "him"})
_FEMALE = frozenset({"mrs", "mrs.", "miss", "ms", "ms.", "lady", "madam", "mother", "aunt", "wife", "daughter",
                     "sister", "woman", "girl", "queen", "princess", "she", "her", "hers"})


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (split at blank lines) with hard line breaks and runs of spaces unwrapped."""
    return [" ".join(block.split()) for block in _BLANK_LINE.split(text) if block.strip()]


def is_break(line: str) -> bool:
    """Whether a line (or paragraph) is a decorative scene break: ornaments only, no word, no quotation mark."""
    marks = "".join(line.split())
    return bool(marks) and not _WORD.search(marks) and not _NOT_ORNAMENTS.intersection(marks)


def sections(text: str) -> list[list[str]]:
    """The text's paragraphs (unwrapped as by ``paragraphs``) in sections, split at decorative breaks (a line of
    ornaments, blank lines around it or not); a paragraph with no word that is no break is dropped."""
    found: list[list[str]] = [[]]
    for block in _BLANK_LINE.split(text):
        lines: list[str] = []
        rows = [row for row in block.split("\n") if row.strip()]
        for line in rows:
            if not is_break(line) or (len(rows) > 1 and _WRAPPED_DASH.fullmatch(line)):
                lines.append(line)
                continue
            _keep_worded(lines, found[-1])
            lines = []
            if found[-1]:
                found.append([])
        _keep_worded(lines, found[-1])
    return [section for section in found if section]


def _keep_worded(lines: list[str], section: list[str]) -> None:
    body = " ".join(" ".join(lines).split())
    if _WORD.search(body):
        section.append(body)


def word_count(text: str) -> int:
    """How many words the text has."""
    return len(text.split())


def _starts(text: str, segmenter: Segmenter) -> list[int]:
    starts, cursor = [], 0
    for piece in segmenter.segment(text):
        found = text.find(piece.strip(), cursor) if piece.strip() else -1
        if found >= 0:
            starts.append(found)
            cursor = found + len(piece.strip())
    kept = [0]
    for start in starts[1:]:  # pysbd ends some sentences too soon: on a title, "Mme.", or on "lbs. of"
        if not continues(text[kept[-1]:start], text[start:]):
            kept.append(start)
    # pysbd also cuts off punctuation alone (chapter 57's closing "'" of a letter quoted in a speech): a piece with
    # no word is joined to the piece before it, whose sentence it closes; one that opens the text, to the next one
    worded = [a for a, b in pairwise([*kept, len(text)]) if _WORD.search(text[a:b])]
    return [0, *worded[1:]] if worded else [0]


def _cut(text: str, starts: list[int]) -> list[str]:
    return [text[a:b].strip() for a, b in pairwise([*starts, len(text)]) if text[a:b].strip()]


def sentences(paragraph: str, segmenter: Segmenter) -> list[str]:
    """The paragraph's sentences as pysbd finds them, cut from the paragraph itself so no character is lost."""
    return _cut(paragraph, _starts(paragraph, segmenter))


def split_speech(sentence: str, segmenter: Segmenter, max_words: float) -> list[str]:
    """A unit longer than ``max_words`` cut at the sentence ends inside its quotations, regrouped to fit."""
    if word_count(sentence) <= max_words:
        return [sentence]
    masked = "".join(" " if ch in _OPENERS + _CLOSERS else ch for ch in sentence)
    pieces = _cut(sentence, _starts(masked, segmenter))
    sizes = [float(word_count(piece)) for piece in pieces]
    groups = balanced_groups(sizes, max_words / 2, max_words, len(pieces))
    return [" ".join(pieces[i] for i in group) for group in groups]


def balanced_groups(sizes: list[float], low: float, high: float, max_count: int) -> list[list[int]]:
    """Cut a run of sizes into consecutive groups of at most ``max_count`` items summing to at most ``high``
    (a lone item may be larger) and as rarely below ``low`` as can be, in as few groups as that allows."""
    best = [0.0] + [math.inf] * len(sizes)
    cut = [0] * (len(sizes) + 1)
    for end in range(1, len(sizes) + 1):
        total = 0.0
        for start in range(end - 1, max(end - max_count, 0) - 1, -1):
            total += sizes[start]
            if total > high and start < end - 1:
                break  # only a single item may run over ``high``
            cost = best[start] + 1.0 + _SHORT_WEIGHT * max(low - total, 0.0) ** 2
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(sizes)
    while end > 0:
        groups.append(list(range(cut[end], end)))
        end = cut[end]
    return groups[::-1]


def quote_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    """The (start, end) spans of the quotations in the text, and whether the last one is left open."""
    spans, start = [], None
    for i, ch in enumerate(text):
        if start is None and ch in _OPENERS:
            start = i
        elif start is not None and ch in _CLOSERS:
            spans.append((start, i + 1))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans, start is not None


def outside_quotes(text: str) -> list[str]:
    """The stretches of the text that are not inside quotation marks."""
    spans, _ = quote_spans(text)
    bounds = [0] + [i for span in spans for i in span] + [len(text)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2) if text[bounds[i]:bounds[i + 1]].strip()]


def is_speech(text: str) -> bool:
    """Whether the text quotes someone speaking."""
    spans, _ = quote_spans(text)
    return any(re.search(r"\w", text[a:b]) for a, b in spans)


def alias_table(characters: tuple[Character, ...]) -> list[tuple[str, str]]:
    """(lower-case alias, canonical name) pairs, longest alias first; bare pronouns are left out."""
    pairs = {(alias.strip().lower(), c.name) for c in characters for alias in (c.name, *c.aliases)}
    return sorted((p for p in pairs if p[0] and p[0] not in PRONOUNS), key=lambda p: (-len(p[0]), p))


def _alias_at(text: str, table: list[tuple[str, str]], at_start: bool) -> str | None:
    probe = text.strip().lower()
    for alias, name in table:
        if at_start and probe.startswith(alias) and not probe[len(alias):len(alias) + 1].isalnum():
            return name
        if not at_start and probe.endswith(alias) and not probe[: -len(alias)][-1:].isalnum():
            return name
    return None


def attribution(text: str, table: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """Who the text says is speaking: (name, None), (None, "he"/"she") or (None, None); the name is a project
    character's when an alias matches, else the proper name the text gives ("said Lydia")."""
    pronoun, stranger = None, None
    for stretch in outside_quotes(text):
        for verb in _VERB.finditer(stretch):
            before, after = stretch[: verb.start()], stretch[verb.end():]
            name = _alias_at(after, table, at_start=True) or _alias_at(before, table, at_start=False)
            if name:
                return name, None
            found = _PRONOUN_AFTER.search(after) or _PRONOUN_BEFORE.search(before)
            pronoun = pronoun or (found.group(1).lower() if found else None)
            named = _NAME_AFTER.search(after) or _NAME_BEFORE.search(before)
            if named and named.group(1).split()[0].lower() not in _NOT_NAMES:
                stranger = stranger or named.group(1)
    return (stranger, None) if stranger else (None, pronoun)


def addressee(text: str, table: list[tuple[str, str]]) -> str | None:
    """The character a quotation in the text calls by name ("…, Lizzy?", "My dear Mr. Bennet, …"), if any."""
    called = None
    for start, end in quote_spans(text)[0]:
        inner = text[start:end]
        for alias, name in table:
            for m in re.finditer(r"(?<!\w)" + re.escape(alias) + r"(?!\w)", inner, re.IGNORECASE):
                if _VOCATIVE_LEAD.search(inner[: m.start()]) and inner[m.end():].lstrip()[:1] in tuple(",.?!;"):
                    called = name
    return called


def gender(character: Character) -> str | None:
    """'he' or 'she' as the character's titles, aliases and description suggest, else None."""
    tokens = [w for alias in (character.name, *character.aliases) for w in alias.lower().split()]
    tokens += re.findall(r"[a-z]+", character.description.lower())[:12]
    male = sum(t in _MALE for t in tokens)
    female = sum(t in _FEMALE for t in tokens)
    return "he" if male > female else "she" if female > male else None


class Turns:
    """Who is speaking in an exchange: explicit attribution, pronouns, then the one spoken to, turn by turn."""

    def __init__(self, characters: tuple[Character, ...]) -> None:
        self.genders = {c.name: gender(c) for c in characters}
        self.last: str | None = None
        self.partner: str | None = None
        self.addressed: str | None = None  # whom the last quoted paragraph called by name
        self.context: list[str] = []  # characters mentioned lately, most recent last

    def reset(self, mentioned: tuple[str, ...]) -> None:
        """Start a new exchange after narration that mentioned these characters, in order."""
        self.last = self.partner = self.addressed = None
        self.context = list(mentioned)

    def note(self, mentioned: tuple[str, ...]) -> None:
        """Remember characters the current paragraph mentions."""
        self.context = [n for n in self.context if n not in mentioned] + list(mentioned)

    def speak(self, name: str, addressed: str | None = None) -> None:
        """Record that ``name`` has the floor now, calling ``addressed`` by name if given."""
        if name != self.last:
            self.partner, self.last = self.last, name
        self.addressed = addressed if addressed != name else None

    def listener(self, speaker: str) -> str | None:
        """Whom the speaker is most likely talking to."""
        if self.addressed and self.addressed != speaker:
            return self.addressed
        if self.partner and self.partner != speaker:
            return self.partner
        if self.last and self.last != speaker:
            return self.last
        return next((n for n in reversed(self.context) if n != speaker), None)

    def resolve(self, name: str | None, pronoun: str | None) -> str | None:
        """The speaker of the next quoted paragraph, given what its attribution says."""
        if name:
            return name
        if pronoun:
            pair = [n for n in (self.last, self.partner) if n and self.genders.get(n) == pronoun]
            if len(pair) == 1:
                return pair[0]
            recent = [n for n in reversed(self.context) if self.genders.get(n) == pronoun]
            if recent:
                return recent[0]
        if self.last:
            return self.listener(self.last)  # the one spoken to answers
        return self.context[0] if self.context else None

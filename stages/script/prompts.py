"""What a shot shows, for the rules screenwriter: characters present, mood, time of day, setting, image prompt."""
from __future__ import annotations

import re
from collections import Counter

from stages.contracts import Character
from stages.script.sentences import SPEECH_VERBS
from stages.text import NOT_AFTER_TITLE, RANKS, TITLE, TITLES

MOODS: dict[str, tuple[str, ...]] = {  # a trailing * makes a word stem; the order breaks ties
    "tense": ("nerv*", "vex*", "anger*", "angry", "quarrel*", "fear*", "afraid", "anxi*", "worr*", "abus*",
              "suffer*", "impatien*", "alarm*", "threat*", "danger*", "dread*", "distress*", "agitat*", "uneas*",
              "insult*", "resent*", "provok*", "scold*", "furious", "fury", "rage"),
    "somber": ("death", "dead", "die", "died", "dying", "grief", "griev*", "sorrow*", "sad", "sadly", "sadness",
               "tears", "mourn*", "funeral", "gloom*", "melanchol*", "despair*", "lonel*", "weep*", "wept"),
    "romantic": ("love*", "lover*", "marr*", "beaut*", "handsome", "heart*", "admir*", "courtship", "wedding*",
                 "kiss*", "affection*", "tender*", "passion*", "suitor*", "romance", "propos*"),
    "comic": ("odd", "oddly", "absurd*", "nonsense", "silly", "ridicul*", "sarcas*", "humour*", "humor*", "joke*",
              "jest*", "teas*", "ignoran*", "flatter*", "tiresome", "foolish*", "droll", "whim*", "capric*"),
    "cheerful": ("delight*", "happ*", "joy*", "glad*", "laugh*", "merr*", "pleas*", "fine", "charm*", "smil*",
                 "cheer*", "lively", "good-humoured"),
    "eager": ("eager*", "hurr*", "haste", "hastily", "hasten*", "excit*", "immediately", "soon", "news"),
    "calm": ("quiet*", "calm*", "peace*", "still", "gentl*", "serene*", "silen*", "rest", "soft*"),
}
TIMES: dict[str, tuple[str, ...]] = {
    "morning": ("morning*", "dawn", "sunrise", "breakfast*", "daybreak"),
    "evening": ("evening*", "dusk", "sunset", "twilight", "dinner*", "supper*"),
    "night": ("night*", "midnight", "moonlight", "moon", "candle*", "darkness"),
    "day": ("day", "noon", "midday", "afternoon*", "sunshine", "daylight"),
}
_LIGHT = {"day": "daylight", "morning": "morning light", "evening": "evening light", "night": "night, candlelight"}
_PLACE_HEADS = ("Park", "Hall", "House", "Lodge", "Manor", "Abbey", "Castle", "Court", "Place", "Street", "Square",
                "Lane", "Road", "Cottage", "Farm", "Inn", "Church", "Chapel", "Rectory", "Parsonage", "Vicarage",
                "Gardens", "Palace", "Tower", "Bridge", "Priory", "Grange", "Mill", "Green", "Common", "Heath")
_ROOMS = ("drawing-room", "drawing room", "breakfast-room", "breakfast room", "dining-room", "dining room",
          "dressing-room", "sitting-room", "sitting room", "ball-room", "ballroom", "bedroom", "library", "parlour",
          "parlor", "study", "garden", "shrubbery", "carriage", "church", "chapel", "kitchen", "staircase", "gallery",
          "terrace", "stables", "village", "meadow", "forest", "river", "shore", "inn", "street", "woods")
_NAMED = re.compile(r"\b((?:[A-Z][\w'-]+ )+(?:" + "|".join(_PLACE_HEADS) + r"))\b")
_LOCATIVE = re.compile(r"\b(?:at|in|near|into|inside)\s+([A-Z][a-z]+(?: [A-Z][a-z]+)*)\b(?!'s|’s)")
_ROOM = re.compile(r"\b(?:the|a|an|his|her|their|our|my|your)\s+(" + "|".join(_ROOMS) + r")\b", re.IGNORECASE)
_NOT_PLACES = frozenset({"The", "A", "An", "In", "At", "To", "On", "Of", "And", "But", "I", *TITLES, *RANKS, "Monday",
                         "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February",
                         "March", "April", "May", "June", "July", "August", "September", "October", "November",
                         "December", "God", "Heaven"})
_STOP = frozenset("""
a about above after again against ago ah all almost also although always am among an and another any anything are
as at away be because been before being below between both but by can cannot could dare dear did do does doing done
down during each either else enough even ever every few for from further get give given go going gone good-bye got
had has have having he her here hers herself him himself his how however i if in indeed into is it its itself just
know known last least less let like made make many may me might mine more most much must my myself near never no
nonsense nor not nothing now o of off oh often on once one only or other others ought our ours out over own perhaps
pray quite rather really said same say says see seen shall she should since so some something still such sure take
taken tell than that the their them themselves then there these they thing things think this those though through
thus till to told too under until up upon us very was way we well were what when where whether which while who whom
whose why will with within without would yes yet you your yours yourself came come comes went goes want wants wish
hear heard hope assure believe suppose mean means seems seem seemed look looked whole half first certainly surely
day time times year years now-a-days sort kind great little long old new aye nay next answer therefore none use
bit better best worse worst able sorry glad afraid
ask become begin bring call change consider decide depend desire engage fall feel find follow forget go happen
help hold keep learn leave live lose meet mention move open pass pay pretend put reach recommend remain
remember return run send show sit speak spend stand stay stop suggest talk try turn visit wait walk wonder
""".split()) | frozenset(SPEECH_VERBS)
_TOKEN = re.compile(rf"(?:{TITLE}\. )?[^\W\d_](?:[^\W\d_]|['’-])*")  # words of any alphabet: "Café", not "Caf"
_CLAUSE = re.compile(rf"\.{NOT_AFTER_TITLE}|[,;:!?\"“”()]|—|--| - ")  # "Mme. Roux" is no clause end


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    parts = [re.escape(w[:-1]) + r"[\w-]*" if w.endswith("*") else re.escape(w) for w in words]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


_MOOD_PATTERNS = {mood: _pattern(words) for mood, words in MOODS.items()}
_TIME_PATTERNS = {time: _pattern(words) for time, words in TIMES.items()}


def mentions(text: str, table: list[tuple[str, str]]) -> tuple[str, ...]:
    """Canonical names of the characters the text names (by name or alias), in order of first appearance."""
    hits: list[tuple[int, int, str]] = []
    for alias, name in table:
        for m in re.finditer(r"(?<![\w])" + re.escape(alias) + r"(?![\w])", text, re.IGNORECASE):
            hits.append((m.start(), m.end(), name))
    taken: list[tuple[int, int, str]] = []
    for start, end, name in sorted(hits, key=lambda h: (h[0], h[0] - h[1])):
        if not taken or start >= taken[-1][1]:
            taken.append((start, end, name))
    return tuple(dict.fromkeys(name for _, _, name in taken))


def pronoun_references(text: str, recent: list[str], genders: dict[str, str | None]) -> list[str]:
    """Characters the text's he/she pronouns likely mean: the most recent of each gender in ``recent``."""
    found = []
    for pronoun, forms in (("he", r"he|him|his|himself"), ("she", r"she|her|hers|herself")):
        if re.search(rf"\b(?:{forms})\b", text, re.IGNORECASE):
            found += [n for n in reversed(recent) if genders.get(n) == pronoun][:1]
    return found


def mood(text: str) -> str:
    """The text's mood, one of ``MOODS``, by keyword counts (exclamations add to 'eager'); 'calm' when nothing fits."""
    scores = {name: len(pattern.findall(text)) for name, pattern in _MOOD_PATTERNS.items()}
    scores["eager"] += text.count("!")
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] else "calm"


def time_of_day(text: str) -> str | None:
    """'morning', 'evening', 'night' or 'day' from the first time word in the text, else None."""
    found = [(m.start(), time) for time, pattern in _TIME_PATTERNS.items() for m in [pattern.search(text)] if m]
    return min(found)[1] if found else None


def setting(narration: list[str]) -> str | None:
    """The most specific place the narration names (a room, a named estate, 'at <Place>'), else None."""
    text = " ".join(narration)
    rooms = Counter(m.group(1).lower().replace(" room", "-room") for m in _ROOM.finditer(text))
    named = Counter(_trim_place(m.group(1)) for m in _NAMED.finditer(text))
    named += Counter(m.group(1) for m in _LOCATIVE.finditer(text) if m.group(1).split()[0] not in _NOT_PLACES)
    named = Counter({k: v for k, v in named.items() if k})
    room = f"the {rooms.most_common(1)[0][0]}" if rooms else None
    place = named.most_common(1)[0][0] if named else None
    if room and place:
        return f"{room} at {place}"
    return room or place


def _trim_place(phrase: str) -> str:
    words = phrase.split()
    while len(words) > 1 and words[0] in _NOT_PLACES:
        words = words[1:]
    return " ".join(words) if len(words) > 1 else ""


def key_phrases(text: str, table: list[tuple[str, str]], limit: int = 6) -> list[str]:
    """Up to ``limit`` concrete noun-like phrases of the text (stopwords, adverbs, verbs in -ed and names dropped)."""
    for alias, _ in table:
        text = re.sub(r"(?<![\w])" + re.escape(alias) + r"(?![\w])", ",", text, flags=re.IGNORECASE)
    found: list[str] = []
    for clause in _CLAUSE.split(text):
        run: list[str] = []
        for word in [*_TOKEN.findall(clause), ""]:
            if word and _is_content(word):
                run.append(word if word[0].isupper() and word.lower() not in _STOP else word.lower())
                continue
            if run:
                found.append(" ".join(run[-3:]))
            run = []
    unique = list(dict.fromkeys(found))
    inside = {p for p in unique for q in unique if p != q and f" {p.lower()} " in f" {q.lower()} "}
    return [p for p in unique if p not in inside][:limit]


def _is_content(word: str) -> bool:
    low = word.lower()
    if low in _STOP or len(low) < 3 or "'" in low or "’" in low:
        return False
    if word[0].isupper():
        return True
    return not (low.endswith("ly") and len(low) > 4) and not (low.endswith("ed") and len(low) > 5)


def image_prompt(*, subject: str, setting: str, time: str, shot_mood: str, cast: tuple[Character, ...],
                 style: str, limit: int = 600) -> str:
    """An image prompt: what the shot shows, where, the light and mood, each character's look, the style."""
    head = f"{subject}; {setting}, {_LIGHT.get(time, time)}, {shot_mood} mood."
    tail = f" Style: {style.strip()}" if style.strip() else ""
    looks = [f"{c.name}: {c.description.strip().rstrip('.')}" for c in cast if c.description.strip()]
    body = f" {'; '.join(looks)}." if looks else ""
    room = limit - len(head) - len(tail)
    if len(body) > room:
        body = body[: max(room - 1, 0)].rsplit(" ", 1)[0].rstrip(";,:") + "…" if room > 8 else ""
    return (head + body + tail)[:limit]


def subject(*, speaker: str | None, listener: str | None, present: tuple[str, ...], phrases: list[str]) -> str:
    """A one-line description of what the shot shows."""
    about = ", ".join(phrases)
    if speaker:
        who = f"{speaker} speaking to {listener}" if listener else f"{speaker} speaking"
        return f"{who} about {about}" if about else who
    if present:
        who = " and ".join([", ".join(present[:-1]), present[-1]] if len(present) > 1 else present)
        return f"{who}: {about}" if about else who
    return about[:1].upper() + about[1:] if about else "A quiet moment"

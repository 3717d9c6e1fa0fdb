"""The ``rules`` screenwriter: sentences, shots, scenes, speakers, characters and prompts."""
from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from pydantic import ValidationError
from pysbd import Segmenter

from stages.contracts import Character, ScriptRequest
from stages.errors import InputError
from stages.registry import backend_class
from stages.script import prompts
from stages.script.rules import RulesOptions as Options, RulesScriptWriter
from stages.script.sentences import alias_table, attribution, paragraphs, sentences
from stages.text import RANKS, TITLES

TEXT = Path(__file__).resolve().parents[1] / "assets" / "texts" / "pride_and_prejudice.txt"
MR = Character(name="Mr. Bennet", description="a lean gentleman of fifty-five in a dark frock coat, dry smile",
               aliases=("Mr. Bennet", "her husband", "his father"))
MRS = Character(name="Mrs. Bennet", description="a plump, excitable woman of fifty in a lace cap",
                aliases=("Mrs. Bennet", "his lady", "his wife", "her mother"))
CAST = (MR, MRS)
STYLE = "Regency-era watercolour, soft light"
OPENING = '"My dear Mr. Bennet," said his lady to him one day, "have you heard that\nNetherfield Park is let at last?"'


def norm(text: str) -> str:
    return " ".join(text.split())


def write(text: str, characters: tuple[Character, ...] = CAST, **options: object):
    request = ScriptRequest(title="Test", text=text, characters=characters, style=STYLE)
    return RulesScriptWriter(Options(**options)).write(request)


def chapter_one() -> str:
    raw = TEXT.read_text(encoding="utf-8")
    return raw.split("Chapter 1", 1)[1].split("Chapter 2", 1)[0].strip("\n")


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter(language="en", clean=False)


@pytest.fixture(scope="module")
def chapter():
    return write(chapter_one())


# --- sentences ---------------------------------------------------------------------------------


def test_paragraphs_unwrap_hard_line_breaks():
    assert paragraphs("One\nline.\n\n\n  Two\n   lines.  \n") == ["One line.", "Two lines."]


def test_a_quotation_that_continues_after_its_attribution_is_one_sentence(segmenter):
    (paragraph,) = paragraphs(OPENING)
    assert sentences(paragraph, segmenter) == [paragraph]
    returned = '"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."'
    assert sentences(returned, segmenter) == [returned]


def test_titles_do_not_end_sentences(segmenter):
    text = "Mr. Bennet was odd. Her mind was less difficult to develop. She saw Mrs. Long at church."
    assert sentences(text, segmenter) == ["Mr. Bennet was odd.", "Her mind was less difficult to develop.",
                                          "She saw Mrs. Long at church."]


@pytest.mark.parametrize("title", TITLES)
def test_no_title_of_the_one_list_ends_a_sentence_or_a_clause(segmenter, title):
    text = f'"Come in," said {title}. Dufour to {title}. Roux by the old mill. It rained.'
    assert sentences(text, segmenter) == [f'"Come in," said {title}. Dufour to {title}. Roux by the old mill.',
                                          "It rained."]
    assert prompts.key_phrases(f"{title}. Dufour and {title}. Roux watched the mill.", []) == [
        f"{title}. Dufour", f"{title}. Roux", "mill"]


@pytest.mark.parametrize("title", [f"{title}." for title in TITLES] + list(RANKS))
def test_a_title_or_rank_of_the_one_list_belongs_to_the_name_after_it(title):
    assert attribution(f'"Come in," said {title} Lucas, and "Sit down," {title} Roux replied.', []) == (
        f"{title} Lucas", None)
    assert attribution(f'"Sit down," {title} Roux replied.', []) == (f"{title} Roux", None)


def test_the_screenwriter_keeps_lbs_of_in_one_sentence(segmenter):
    text = "He weighed 12 lbs. of flour for the cook. She carried 2 lbs. Flour was dear."
    assert sentences(text, segmenter) == ["He weighed 12 lbs. of flour for the cook.", "She carried 2 lbs.",
                                          "Flour was dear."]


# --- shots -------------------------------------------------------------------------------------

NARRATION = "\n\n".join(
    " ".join(f"Sentence {p}.{s} tells of the old stone bridge." for s in range(count))
    for p, count in enumerate((5, 7, 3, 6, 2), start=1)
)


def test_shots_never_split_a_sentence_nor_cross_a_paragraph(segmenter):
    shots = write(NARRATION).shots()
    texts = iter(s.narration for s in shots)
    for paragraph in paragraphs(NARRATION):
        whole = sentences(paragraph, segmenter)
        built: list[str] = []
        while len(built) < len(whole):
            piece = sentences(next(texts), segmenter)
            assert piece == whole[len(built):len(built) + len(piece)]
            built += piece
    assert next(texts, None) is None


def test_shot_lengths_stay_within_bounds(segmenter):
    options = Options()
    for shot in write(NARRATION).shots():
        seconds = len(shot.narration.split()) / options.words_per_second
        assert options.min_seconds <= seconds <= options.max_seconds
        assert 1 <= len(sentences(shot.narration, segmenter)) <= options.max_sentences


def test_a_long_sentence_is_a_shot_of_its_own():
    long = "The road wound " + "on and on through fields and woods " * 8 + "to the town."
    shots = write(f"A short start. {long} A short end.").shots()
    assert long in [s.narration for s in shots]


def test_a_long_speech_is_cut_at_its_sentence_ends():
    speech = '"' + " ".join(f"I will say thing number {n} about the weather today." for n in range(8)) + '"'
    shots = write(speech).shots()
    assert len(shots) > 1
    assert norm(" ".join(s.narration for s in shots)) == norm(speech)
    assert all(len(s.narration.split()) / 2.6 <= 12 for s in shots)


# --- speakers and characters -------------------------------------------------------------------


def test_attribution_matches_aliases_names_and_pronouns():
    table = alias_table(CAST)
    assert attribution(norm(OPENING), table) == ("Mrs. Bennet", None)
    assert attribution('"I have not," Mr. Bennet replied.', table) == ("Mr. Bennet", None)
    assert attribution("Mr. Bennet replied that he had not.", table) == ("Mr. Bennet", None)
    assert attribution('"They are silly," replied he; "all of them."', table) == (None, "he")
    assert attribution('"Mr. Bennet, how can you?"', table) == (None, None)  # a name inside the quotation


def test_dialogue_speakers_follow_attribution_pronouns_and_turns():
    text = "\n\n".join([
        OPENING,
        "Mr. Bennet replied that he had not.",
        '"But it is," returned she; "for Mrs. Long has just been here."',
        '"Do you not want to know who has taken it?" cried his wife impatiently.',
        '"You want to tell me, and I have no objection to hearing it."',
        '"Why, my dear, you must know."',
        '"What is his name?"',
        '"They are all silly," replied he.',
    ])
    speakers = [s.speaker for s in write(text).shots()]
    assert speakers == ["Mrs. Bennet", "narrator", "Mrs. Bennet", "Mrs. Bennet", "Mr. Bennet", "Mrs. Bennet",
                        "Mr. Bennet", "Mr. Bennet"]


def test_the_one_called_by_name_answers_and_strangers_speak_as_the_narrator():
    lizzy = Character(name="Elizabeth", description="a lively young woman", aliases=("Lizzy",))
    kitty = Character(name="Kitty", description="a girl of fifteen")
    text = "\n\n".join([
        '"I do not cough for my own amusement," replied Kitty. "When is your next ball to be, Lizzy?"',
        '"To-morrow fortnight."',
        '"Oh!" said Lydia stoutly, "I am not afraid."',
    ])
    shots = write(text, (*CAST, lizzy, kitty)).shots()
    assert [s.speaker for s in shots] == ["Kitty", "Elizabeth", "narrator"]
    assert shots[0].characters == ("Kitty", "Elizabeth")


def test_characters_are_detected_by_name_and_alias_in_order():
    table = alias_table(CAST)
    assert prompts.mentions("Mrs. Bennet spoke to Mr. Bennet.", table) == ("Mrs. Bennet", "Mr. Bennet")
    assert prompts.mentions("to make his wife understand", table) == ("Mrs. Bennet",)
    assert prompts.mentions("she told him", table) == ()
    shot = write("Mr. Bennet was odd; his wife was nervous. Nobody else came to call at the house.").shots()[0]
    assert shot.characters == ("Mr. Bennet", "Mrs. Bennet")
    assert write("A quiet lane ran past the church, and nobody came to call.").shots()[0].characters == ()


def test_narration_pronouns_point_back_to_the_last_character_named():
    text = "Mr. Bennet sat with his wife.\n\nShe was a woman of mean understanding, little information and temper."
    assert write(text).shots()[-1].characters == ("Mrs. Bennet",)


# --- prompts, moods, settings ------------------------------------------------------------------


def test_prompts_carry_the_content_the_descriptions_and_the_style():
    shot = write(OPENING).shots()[0]
    assert shot.speaker == "Mrs. Bennet"
    assert "Netherfield Park" in shot.image_prompt
    assert f"Mrs. Bennet: {MRS.description}" in shot.image_prompt
    assert f"Mr. Bennet: {MR.description}" in shot.image_prompt
    assert shot.image_prompt.endswith(f"Style: {STYLE}")
    wordy = Character(name="Mrs. Bennet", description="a woman " * 200, aliases=("his lady",))
    assert len(write(OPENING, (MR, wordy)).shots()[0].image_prompt) <= 600


def test_mood_time_and_setting_come_from_keywords():
    assert prompts.mood("You have no compassion for my poor nerves.") == "tense"
    assert prompts.mood("The table stood by the door.") == "calm"
    assert prompts.time_of_day("They dined late that evening.") == "evening"
    assert prompts.time_of_day("The table stood by the door.") is None
    scene = write("They walked at dusk into the library at Netherfield Park, where the fire was lit.").scenes[0]
    assert scene.setting == "the library at Netherfield Park"
    assert scene.shots[0].time_of_day == "evening"
    assert write("Nobody said a word.").scenes[0].setting == Options().default_setting


def test_scenes_turn_between_narration_and_dialogue_and_are_capped():
    speech = "\n\n".join(f'"Line {n} is short," said his wife.' for n in range(10))
    play = write(f"The house was quiet all morning.\n\n{speech}\n\nThe house fell quiet again.", max_shots_per_scene=4)
    assert [len(scene.shots) for scene in play.scenes] == [1, 4, 4, 2, 1]
    assert [s.shot for s in play.shots()] == list(range(1, 13))
    assert [scene.scene for scene in play.scenes] == [1, 2, 3, 4, 5]


# --- the backend -------------------------------------------------------------------------------


def test_empty_text_is_an_input_error():
    with pytest.raises(InputError, match="the source text is empty") as caught:
        write(" \n\n \t")
    assert caught.value.hint


def test_options_are_checked():
    with pytest.raises(ValidationError):
        Options(min_seconds=20, max_seconds=10)
    assert backend_class("script", "rules") is RulesScriptWriter


def test_the_same_request_gives_the_same_screenplay(chapter):
    assert write(chapter_one()) == chapter


def test_chapter_one(chapter):
    shots = chapter.shots()
    assert 30 <= len(shots) <= 70
    assert chapter.title == "Test"
    assert norm(" ".join(s.narration for s in shots)) == norm(chapter_one())
    assert [s.shot for s in shots] == list(range(1, len(shots) + 1))
    assert [s.scene for s in chapter.scenes] == list(range(1, len(chapter.scenes) + 1))
    by_phrase = {phrase: next(s for s in shots if phrase in s.narration)
                 for phrase in ("said his lady", "replied he", "What is his name?", "Bingley.\"")}
    assert by_phrase["said his lady"].speaker == "Mrs. Bennet"
    assert by_phrase["replied he"].speaker == "Mr. Bennet"
    assert by_phrase["What is his name?"].speaker == "Mr. Bennet"
    assert by_phrase['Bingley."'].speaker == "Mrs. Bennet"
    assert all(a.motion != b.motion for a, b in pairwise(shots))
    assert all(s.mood in prompts.MOODS and s.time_of_day in prompts.TIMES for s in shots)
    assert all(STYLE in s.image_prompt and len(s.image_prompt) <= 600 for s in shots)
    over = [s for s in shots if len(s.narration.split()) / 2.6 > 12]
    assert all(len(sentences(re.sub('["“”]', " ", s.narration), Segmenter(language="en", clean=False))) == 1
               for s in over)


def test_key_phrases_keep_accented_words_whole():
    from stages.script.prompts import key_phrases

    phrases = key_phrases("They met at the Café Dufour on the rue Saint-Honoré, where the señora waited.", [])
    assert "Café Dufour" in phrases and "rue Saint-Honoré" in phrases and "señora" in phrases

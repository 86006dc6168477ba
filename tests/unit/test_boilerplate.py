"""Boilerplate removal from plain-text scrapes: page furniture goes, every sentence of the story stays."""

from __future__ import annotations

import re
from pathlib import Path

from rag.ingest.boilerplate import LineStats, line_key, strip_boilerplate
from rag.ingest.clean import repair_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEED_001 = SEEDS / "001_c07de3d4340d629a.txt"
QUOTE = re.compile(r"""["“”«»„]|(?<![\w'’])['‘]\w""")


def cleaned(path: Path) -> str:
    return strip_boilerplate(repair_text(path.read_text()))


def story_lines(path: Path, end_marker: str | None = None) -> list[str]:
    """Lines of a seed above `end_marker` that are sentences (8+ words) or hold a quotation."""
    lines = repair_text(path.read_text()).split("\n")
    if end_marker:
        lines = lines[: next(i for i, line in enumerate(lines) if end_marker in line)]
    return [line for line in lines if len(line.split()) >= 8 or QUOTE.search(line)]


# --- the seeds ------------------------------------------------------------------------------------


def test_seed_001_footer_is_gone() -> None:
    text = cleaned(SEED_001)
    for furniture in (
        "16x9 Image",
        "RFE/RL's Ukrainian Service has seen its audience grow",
        "Current Time is the Russian-language TV",
        "Mykyta Peretiatko",
        "undesirable organization",
        "you could face fines or imprisonment",
        "To find out more, click here.",
        "Recommended",
    ):
        assert furniture not in text
    assert not {"XS", "SM", "MD", "LG"} & set(text.split("\n"))
    assert text.endswith("That's nonsense spread by Russian propaganda,\" Hetman added.")


def test_seed_001_head_menu_and_player_residue_are_gone_story_stays() -> None:
    text = cleaned(SEED_001)
    lines = set(text.split("\n"))
    for furniture in ("Accessibility links", "Subscribe", "site logo site logo", "Previous Next", "Embed"):
        assert furniture not in lines
    assert "No media source currently available" not in text
    assert "0:00 0:01:52 0:00" not in text
    assert text.startswith("Battle For Ukraine's Pokrovsk Escalates As Russian Forces Press On\n")
    assert text.count("Ukrainian police officers trying to persuade residents") == 1  # the caption, once


def test_seed_001_every_story_sentence_and_quote_stays() -> None:
    text = cleaned(SEED_001)
    story = story_lines(SEED_001, end_marker="16x9 Image")
    quoted = [line for line in story if QUOTE.search(line)]
    assert len(quoted) == 5  # the seed's quotations, from "difficult," to Hetman's
    assert [line for line in story if line not in text] == []


def test_every_sentence_of_the_other_seeds_stays() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        if path != SEED_001:
            text = cleaned(path)
            assert [line for line in story_lines(path) if line not in text] == [], path.name


# --- lines repeated across articles ---------------------------------------------------------------

MENU = "World | Europe | Ukraine"
STORY = "Kyiv said on Monday that power had been restored to most of the city after the strikes.\n"


def stats_over(*texts: str) -> LineStats:
    stats = LineStats()
    for text in texts:
        stats.observe(text)
    return stats


def test_line_in_three_articles_goes_in_two_stays() -> None:
    docs = [f"Kyiv Today\n{STORY}Story {i} ends with its own sentence here.\n" for i in range(3)]
    three = stats_over(*docs)
    two = stats_over(*docs[:2])
    assert three.is_repeated("Kyiv Today", 3) and not two.is_repeated("Kyiv Today", 3)
    assert "Kyiv Today" not in strip_boilerplate(docs[0], three, min_repeats=3)
    assert "Kyiv Today" in strip_boilerplate(docs[0], two, min_repeats=3)


def test_repeated_sentence_or_quotation_in_the_body_stays() -> None:
    quote = '"We will rebuild," the mayor said.'
    docs = [f"{STORY}{quote}\nStory {i} has a sentence of its own at the end.\n" for i in range(4)]
    stats = stats_over(*docs)
    assert stats.is_repeated(STORY.strip()) and stats.is_repeated(quote)
    assert strip_boilerplate(docs[0], stats) == docs[0].strip()


def test_observe_counts_each_article_once() -> None:
    stats = LineStats()
    stats.observe("Share\nShare\nA story line here.")
    stats.observe("Share\nShare\nA story line here.")  # the same text again: not another article
    assert stats.count("Share") == 1
    stats.observe("  share \r\nAnother story.")
    assert stats.count("SHARE") == 2  # case, spacing and line endings do not matter


def test_long_lines_and_bare_times_are_not_counted() -> None:
    long_line = "word " * 60
    stats = stats_over(*(f"{long_line}\n9:05 p.m.\nStory {i}." for i in range(5)))
    assert stats.count(long_line) == 0
    assert stats.count("9:05 p.m.") == 0  # the same time in many live blogs is chance, not furniture
    assert line_key("9:05 p.m.") == "" and line_key(" • Most Read ") == "most read"


def test_line_stats_save_and_load(tmp_path: Path) -> None:
    stats = stats_over(*(f"{MENU}\nStory {i} sentence." for i in range(3)))
    path = tmp_path / "index" / "boilerplate.json"
    stats.save(path)
    loaded = LineStats.load(path)
    assert loaded == stats
    assert loaded.is_repeated(MENU, 3)
    loaded.observe(f"{MENU}\nStory 0 sentence.")  # seen before the save: still counts once
    assert loaded.count(MENU) == 3


def test_line_stats_load_missing_or_broken_file_is_empty(tmp_path: Path) -> None:
    assert LineStats.load(tmp_path / "nothing.json") == LineStats()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert LineStats.load(broken) == LineStats()


# --- rules on their own ---------------------------------------------------------------------------

BODY = (
    "Russian forces pressed on Pokrovsk on Tuesday, officials said.\n\n"
    "The city had 60,000 residents before the war, and most of them have fled.\n\n"
)


def test_long_body_paragraph_with_subscribe_stays() -> None:
    odd = "Readers who subscribe to the local paper learned of the evacuation order a day before the radio did."
    text = f"{BODY}{odd}\n\nThe mayor said buses would leave every hour from the station.\nShare"
    out = strip_boilerplate(text)
    assert odd in out
    assert out.endswith("leave every hour from the station.")
    last = f"{BODY}{odd}"  # a story may end on it, too
    assert strip_boilerplate(last) == last


def test_footer_after_the_story_goes_short_closing_sentence_stays() -> None:
    text = (
        f"{BODY}Pure propaganda.\n\nFollow Jane Doe on Twitter @janedoe.\n\n"
        "© 2025 Example News. All rights reserved.\n\nSign up for our newsletter\nPrivacy Policy"
    )
    assert strip_boilerplate(text) == f"{BODY}Pure propaganda."


def test_short_last_lines_without_a_certain_footer_stay() -> None:
    text = f"{BODY}Pivnichne\nZalizne\nDroujba"
    assert strip_boilerplate(text) == text


def test_story_sentence_glued_to_a_newsletter_plug_stays() -> None:
    text = (
        'The inaugural "FloridaMan Games" took place last weekend, with a mud duel and a sumo contest.'
        "For more unusual news, subscribe to our Tall Tales newsletter."
    )
    assert strip_boilerplate(text) == text


def test_bio_card_and_legal_notice_in_the_tail_go() -> None:
    text = (
        f"{BODY}• 16x9 Image\n\nJane Doe\n\nJane Doe is a correspondent with Example News in Kyiv.\n\n"
        'Example News has been declared an "undesirable organization" by the Russian government.'
    )
    assert strip_boilerplate(text) == BODY.strip()


def test_one_bio_like_last_sentence_alone_stays() -> None:
    text = f"{BODY}Zelenskyy is a former comedian and television host."
    assert strip_boilerplate(text) == text


def test_hard_wrapped_prose_is_one_paragraph_and_stays() -> None:
    wrapped = (
        "Editor's note: the candidate has repeatedly\n"
        "pledged to ban all members of a religion\n"
        "from entering the U.S.\n"
        "Subscribe"
    )
    assert strip_boilerplate(f"{BODY}{wrapped}") == BODY + wrapped.removesuffix("\nSubscribe")


def test_chrome_lines_go_anywhere_and_credits_only_alone() -> None:
    text = (
        f"{BODY}Advertisement - story continues below\n"
        "Bloomberg via Getty Images.\n"
        "Reuters reported.\n"
        "Politics | World | Sport | Video\n"
        "02:31\n"
        "___\n"
        "9:05 p.m.\n"
        "The last sentence of the story is here, officials said."
    )
    out = strip_boilerplate(text).split("\n")
    for gone in ("Advertisement - story continues below", "Bloomberg via Getty Images.", "02:31", "___"):
        assert gone not in out
    assert "Politics | World | Sport | Video" not in out
    assert "Reuters reported." in out and "9:05 p.m." in out


def test_head_menu_goes_short_headline_stays() -> None:
    text = f"Home\nWorld\nEurope\nKyiv restores power\n{BODY}"
    assert strip_boilerplate(text) == f"Kyiv restores power\n{BODY.strip()}"


def test_repeated_paragraph_keeps_its_first_copy() -> None:
    caption = "Police officers urge residents to leave the frontline town (file photo)"
    text = f"{caption}\n{caption}\n{BODY}"
    assert strip_boilerplate(text) == f"{caption}\n{BODY.strip()}"


def test_empty_and_plain_texts() -> None:
    assert strip_boilerplate("") == ""
    assert strip_boilerplate("One sentence only.") == "One sentence only."

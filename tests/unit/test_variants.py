"""Name variants: `fold` joins transliterations, `Variants` knows renamings and finds names in text."""

from __future__ import annotations

import importlib.resources
import time
from pathlib import Path

import pytest

from rag.text.variants import Entity, Variants, cyrillic_to_latin, fold, parse

ALIASES = Path(__file__).resolve().parents[2] / "rag" / "text" / "data" / "aliases.tsv"


@pytest.fixture(scope="module")
def names() -> Variants:
    return Variants.load()


def seed_text(seeds: Path, number: str) -> str:
    (path,) = seeds.glob(f"{number}_*.txt")
    return path.read_text(encoding="utf-8")


# --- fold ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["Myrnohrad", "Mirnograd", "Мирноград"],
        ["Dymytrov", "Dimitrov", "Димитров"],
        ["Kharkiv", "Charkiw", "Harkiv", "Charkiv", "Харків"],
        ["Kharkov", "Charkow", "Харьков"],
        ["Zelensky", "Zelenskyy", "Zelenskiy", "Zelenskyi", "Zelenskij", "Selenskyj", "Зеленський", "Зеленский"],
        ["Sievierodonetsk", "Severodonetsk", "Sievjerodonetsk", "Сєвєродонецьк", "Северодонецк"],
        ["Donetsk", "Donezk", "Донецьк", "Donets'k"],
        ["Zaporizhzhia", "Zaporizhia", "Zaporizhzhya", "Saporischschja", "Zaporizjzja", "Запоріжжя"],
        ["Kyiv", "Kyjiw", "Київ"],
        ["Berdiansk", "Berdyansk", "Berdjansk", "Бердянськ"],
        ["Mykolaiv", "Mykolayiv", "Mykolajiw", "Миколаїв"],
        ["Shchastia", "Schtschastja", "Sjtjastja", "Щастя"],
        ["Kupiansk", "Kupyansk", "Kup'yansk", "Kupjansk", "Куп'янськ"],
        ["Lysychansk", "Lisichansk", "Lyssytschansk", "Lysytjansk", "Лисичанськ"],
        ["Kostiantynivka", "Kostyantynivka", "Kostjantyniwka", "Костянтинівка"],
        ["Avdiivka", "Avdiyivka", "Awdijiwka"],
        ["Avdeevka", "Avdeyevka", "Авдеевка"],
        ["Artyomovsk", "Artemovsk", "Артёмовск"],
        ["Kurakhove", "Kurakhovo", "Курахово"],
        ["Odesa", "Odessa", "Одесса"],
        ["Chernihiv", "Tschernihiw", "Tjernihiv"],
        ["Shoigu", "Shoygu", "Schoigu", "Sjojgu", "Шойгу"],
        ["Chasiv Yar", "Tschassiw Jar", "Tjasiv Jar", "Часів Яр"],
        ["Nova Kakhovka", "Novaya Kakhovka", "Nowa Kachowka", "Новая Каховка"],
    ],
)
def test_fold_joins_transliterations(spellings: list[str]) -> None:
    assert len({fold(s) for s in spellings}) == 1, {s: fold(s) for s in spellings}


def test_fold_keeps_different_names_apart() -> None:
    assert fold("Kharkiv") != fold("Kherson")
    assert fold("Pokrovsk") != fold("Pokrovske") != fold("Krasnoarmeysk")
    assert fold("Zelensky") != fold("Zelenska")
    assert fold("Mykolaiv") != fold("Mykolaivka")


def test_cyrillic_to_latin() -> None:
    assert cyrillic_to_latin("Київ") == "Kyiv"
    assert cyrillic_to_latin("Мирноград") == "Myrnohrad"
    assert cyrillic_to_latin("Зеленський") == "Zelenskyi"
    assert cyrillic_to_latin("Сєвєродонецьк") == "Sievierodonetsk"
    assert cyrillic_to_latin("Артёмовск") == "Artyomovsk"
    assert cyrillic_to_latin("ДНР and Pokrovsk") == "DNR and Pokrovsk"


# --- the data file ---------------------------------------------------------------------------------


def test_aliases_ship_inside_the_package() -> None:
    resource = importlib.resources.files("rag.text") / "data" / "aliases.tsv"
    assert resource.is_file()


def test_every_line_parses() -> None:
    for number, line in enumerate(ALIASES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert fields[0] in {"place", "person", "org", "never"}, (number, line)
        assert all(f and f == f.strip() for f in fields), (number, fields)
        assert len(fields) == len(set(fields)), (number, fields)
        if fields[0] != "never":
            assert len(fields) >= 3, (number, "an entity needs a canonical name and a variant")
            assert fields[1].isascii(), (number, "the canonical name is the English one")


def test_enough_entities(names: Variants) -> None:
    assert len(names.entities) >= 120
    assert {e.kind for e in names.entities} == {"place", "person", "org"}


def test_no_variant_belongs_to_two_entities(names: Variants) -> None:
    assert names.conflicts == []


def test_every_listed_spelling_finds_its_entity(names: Variants) -> None:
    for entity in names.entities:
        for name in entity.names:
            assert names.canonical(name) == entity.canonical, name
            if name[0].isupper():
                assert [c for _, _, c in names.find(name)] == [entity.canonical], name


def test_an_ambiguous_spelling_is_reported_and_left_out() -> None:
    v = Variants([Entity("place", ("Alpha", "Shared")), Entity("place", ("Beta", "Shared"))])
    assert v.conflicts == [(fold("Shared"), "Alpha", "Beta")]
    assert v.canonical("Shared") is None
    assert v.canonical("Alpha") == "Alpha"


def test_load_time(capsys: pytest.CaptureFixture[str]) -> None:
    fold.cache_clear()
    start = time.perf_counter()
    v = Variants.load(ALIASES)
    elapsed = (time.perf_counter() - start) * 1000
    with capsys.disabled():
        print(f"\naliases.tsv: {len(v.entities)} entities loaded in {elapsed:.1f} ms")
    assert Variants.load() is Variants.load()  # the packaged file is read once


def test_parse_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse("# comment\ncity\tKyiv\tKiev\n")


# --- lookups ---------------------------------------------------------------------------------------


def test_canonical(names: Variants) -> None:
    for spelling in ["Myrnohrad", "Mirnograd", "Dimitrov", "Dymytrov", "Мирноград", "Димитров", "mirnograd"]:
        assert names.canonical(spelling) == "Myrnohrad"
    for spelling in ["Pokrovsk", "Krasnoarmeysk", "Krasnoarmiisk", "Покровськ", "Покровск", "Красноармейск"]:
        assert names.canonical(spelling) == "Pokrovsk"
    for spelling in ["Kyiv", "Kiev", "Київ", "Киев", "Kiew", "KYIV"]:
        assert names.canonical(spelling) == "Kyiv"
    for spelling in ["Zelensky", "Zelenskyy", "Zelenskiy", "Зеленський", "Selenskyj"]:
        assert names.canonical(spelling) == "Zelensky"
    assert names.canonical("Charkiw") == names.canonical("Kharkov") == "Kharkiv"
    assert names.canonical("Dzerzhinsk") == "Toretsk"
    assert names.canonical("Artyomovsk") == "Bakhmut"
    assert names.canonical("Nowhere") is None


def test_multi_word_names(names: Variants) -> None:
    assert names.canonical("chasiv yar") == "Chasiv Yar"
    assert names.canonical("Часов Яр") == "Chasiv Yar"
    assert names.canonical("Novaya Kakhovka") == "Nova Kakhovka"
    assert names.canonical("Kakhovka") == "Kakhovka"
    assert names.canonical("Donetsk region") == "Donetsk Oblast"
    assert names.canonical("Donetsk") == "Donetsk"


def test_variants_start_with_the_canonical_name(names: Variants) -> None:
    kyiv = names.variants("Kiev")
    assert kyiv[0] == "Kyiv"
    assert {"Kiev", "Київ", "Киев"} <= set(kyiv)
    assert names.variants("Mirnograd")[0] == "Myrnohrad"
    assert names.variants("Nowhere") == []


def test_declined_and_possessive_forms(names: Variants) -> None:
    assert names.canonical("Покровську") == "Pokrovsk"
    assert names.canonical("Зеленського") == "Zelensky"
    assert names.canonical("Києві") == "Kyiv"
    assert names.canonical("Charkivs") == "Kharkiv"  # Swedish genitive
    assert [c for _, _, c in names.find("Kyiv's mayor")] == ["Kyiv"]


def test_short_names_and_acronyms_do_not_swallow_words(names: Variants) -> None:
    assert names.find("Kew Gardens and the Crim. Law Review") == []
    assert names.expand("hur många dog i kriget?") == []  # Swedish "how", not the HUR
    assert names.canonical("HUR") == names.canonical("GUR") == "HUR"
    assert names.find("Ismail Haniyeh said") == []  # folds like Izmail, listed as never
    assert names.canonical("Ismails") is None
    assert names.canonical("Izmail") == "Izmail"


# --- expand ----------------------------------------------------------------------------------------


def test_expand_adds_the_other_spellings(names: Variants) -> None:
    extra = names.expand("What happened in Mirnograd and Krasnoarmeysk?")
    assert {"Myrnohrad", "Dimitrov", "Мирноград", "Pokrovsk", "Krasnoarmiisk", "Покровськ"} <= set(extra)
    assert "Mirnograd" not in extra and "Krasnoarmeysk" not in extra  # already in the question
    assert extra.index("Myrnohrad") < extra.index("Pokrovsk")  # in the order the names appear


def test_expand_is_case_accent_and_script_insensitive(names: Variants) -> None:
    assert "Myrnohrad" in names.expand("what about mirnograd?")
    assert "Sievierodonetsk" in names.expand("SIEVJERODONETSK")
    assert "Pokrovsk" in names.expand("Що відбувається у Покровську?")
    assert "Kharkiv" in names.expand("Charków")


def test_expand_matches_multi_word_names_first(names: Variants) -> None:
    extra = names.expand("fighting near chasiv yar and nova kakhovka")
    assert "Chasov Yar" in extra and "Novaya Kakhovka" in extra
    assert "Kakhovka" not in extra


def test_expand_can_leave_out_cyrillic(names: Variants) -> None:
    extra = names.expand("Kiev", cyrillic=False)
    assert "Kyiv" in extra and "Київ" not in extra


def test_expand_leaves_ordinary_words_alone(names: Variants) -> None:
    assert names.expand("the city said on Monday") == []
    assert names.expand("") == []


# --- find ------------------------------------------------------------------------------------------


def test_find_spans(names: Variants) -> None:  # "Russian" is an adjective, not the name Russia
    text = "Russian troops entered Nova Kakhovka, then Mirnograd (Dimitrov) and the Donetsk region."
    hits = names.find(text)
    assert [(text[s:e], c) for s, e, c in hits] == [
        ("Nova Kakhovka", "Nova Kakhovka"),
        ("Mirnograd", "Myrnohrad"),
        ("Dimitrov", "Myrnohrad"),
        ("Donetsk region", "Donetsk Oblast"),
    ]


def test_find_needs_capitals(names: Variants) -> None:
    assert names.find("mirnograd and pokrovsk") == []
    assert names.find("Kherson. Oblast officials") == [(0, 7, "Kherson")]  # a full stop ends a name


def test_seeds(names: Variants, seeds: Path) -> None:
    def found(number: str) -> set[str]:
        return {c for _, _, c in names.find(seed_text(seeds, number))}

    assert {"Pokrovsk", "Myrnohrad", "Kyiv"} <= found("000")  # Mirnograd, Kiev
    assert {"Pokrovsk", "Myrnohrad", "Sloviansk", "Avdiivka", "Bakhmut", "Zelensky"} <= found("001")
    # The Swedish article is about Luhansk and names Pokrovsk nowhere.
    assert {"Luhansk", "Lysychansk", "Sievierodonetsk", "Kharkiv", "Kherson", "Zaporizhzhia"} <= found("002")
    assert "Pokrovsk" not in found("002")
    # 003 says Dimitrov and Mirnograd (Myrnohrad), not Pokrovsk.
    assert "Myrnohrad" in found("003") and "Pokrovsk" not in found("003")
    assert {"Toretsk", "Vuhledar", "Zelensky"} <= found("004")

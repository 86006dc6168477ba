"""The language a question is asked in, and the note an answer carries when it cannot use it.

Answers quote articles verbatim, and a generated sentence must be supported word for word by the
passage it cites, so an answer is in the language of its sources. A question asked in another
language gets that answer plus a note saying so, in English and in the question's language.
"""

from __future__ import annotations

import re

from rag.types import Answer

# Very common function words: enough to tell the languages of a news collection apart.
_STOPWORDS = {
    "en": "the and of to in is that for was with on as by said have from has are were",
    "sv": "och att det som en på är av för med till den har inte de om ett säger",
    "de": "der die und das ist nicht mit den von zu ein sich auf für im dem",
    "fr": "le la les et des est une en du que pour dans qui sur pas par",
    "es": "el la los las y en que del se por con una para es al",
    "it": "il di che la per una sono della non con del al le si",
    "nl": "de het een en van is dat op te niet zijn voor met",
    "pt": "o a os de que do da em um para com não uma no na",
    "da": "og at det som en på er af for med til den har ikke de",
    "pl": "i w na z że się nie do to jest jak o od po",
    "ru": "и в не на что с по как это он из за от то",
    "uk": "і в не на що з та як це до за від у є",
}
FUNCTION_WORDS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def detect_language(text: str) -> str:
    """ISO 639-1 code of a question's language by function-word counts; 'und' when unsure.

    Meant for short texts (questions): no model to load and steady on a dozen words. Articles use
    `rag.ingest.metadata.article_language` (py3langid), which knows ~100 languages.
    """
    words = re.findall(r"[^\W\d_]+", text[:5000].lower())
    if not words:
        return "und"
    scores = {lang: sum(w in stops for w in words) for lang, stops in FUNCTION_WORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(2, len(words) // 50) else "und"


# Names of the languages news commonly comes in (ISO 639-1); other codes are shown as the code.
LANGUAGE_NAMES = {
    "en": "English", "sv": "Swedish", "uk": "Ukrainian", "ru": "Russian", "de": "German", "fr": "French",
    "pl": "Polish", "es": "Spanish", "it": "Italian", "nl": "Dutch", "da": "Danish", "no": "Norwegian",
    "nb": "Norwegian", "fi": "Finnish", "pt": "Portuguese", "cs": "Czech", "ro": "Romanian", "tr": "Turkish",
    "ar": "Arabic", "zh": "Chinese", "ja": "Japanese", "be": "Belarusian", "lt": "Lithuanian", "lv": "Latvian",
    "et": "Estonian", "hu": "Hungarian", "sk": "Slovak", "bg": "Bulgarian", "ka": "Georgian",
}  # fmt: skip


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


# Question words are the surest sign of a short question's language.
_QUESTION_WORDS = {
    "en": "who what which when where why how did does whom whose",
    "sv": "vem vad vilken vilka vilket när var varför hur",
    "de": "wer welche welcher welches wann wo warum wie dass",
    "fr": "qui quoi quel quelle quels quand où pourquoi comment",
    "es": "quién quiénes qué cuál cuándo dónde cómo",
    "pl": "kto co który która kiedy gdzie dlaczego jak",
    "uk": "хто що який яка коли де чому як",
    "ru": "кто что какой какая когда где почему как",
}
_ASKING = {lang: set(q.split()) for lang, q in _QUESTION_WORDS.items()}
_NOTES = {
    "sv": "Svaret citerar artiklarna på deras eget språk.",
    "de": "Die Antwort zitiert die Artikel in ihrer eigenen Sprache.",
    "fr": "La réponse cite les articles dans leur propre langue.",
    "es": "La respuesta cita los artículos en su propio idioma.",
    "pl": "Odpowiedź cytuje artykuły w ich własnym języku.",
    "uk": "Відповідь цитує статті мовою оригіналу.",
    "ru": "Ответ цитирует статьи на языке оригинала.",
}


def question_language(question: str) -> str:
    """ISO 639-1 code of a question's language, 'und' when unsure. Cyrillic letters only Ukrainian or
    only Russian has decide between the two; otherwise function and question words are counted."""
    text = question.lower()
    if re.search(r"[а-яіїєґё]", text):
        if re.search(r"[іїєґ]", text):
            return "uk"
        if re.search(r"[ыэъё]", text):
            return "ru"
    words = re.findall(r"[^\W\d_]+", text)
    # A question word counts twice: "Hur många invånare finns kvar i Toretsk?" has Polish "i" too.
    scores = {
        lang: sum(2 * (w in asking) + (w in FUNCTION_WORDS.get(lang, set())) for w in words)
        for lang, asking in _ASKING.items()
    }
    best = max(scores, key=lambda k: scores[k])
    tied = sum(score == scores[best] for score in scores.values()) > 1
    return best if scores[best] >= 1 and not tied else "und"


def language_note(question: str, answer: Answer) -> str:
    """Why the answer is not in the question's language, or '' when it is (or nothing was cited)."""
    asked = question_language(question)
    if asked in ("und", "en") or not answer.citations:
        return ""
    quoted = sorted({c.passage.language for c in answer.citations if c.passage.language not in ("", "und")})
    if quoted == [asked]:
        return ""
    where = ", ".join(language_name(code) for code in quoted) or "their own language"
    note = (
        f"The question is in {language_name(asked)}; the answer is in {where}, the language of the articles "
        "it cites, because every sentence must match its source word for word."
    )
    return note + (f" {_NOTES[asked]}" if asked in _NOTES else "")

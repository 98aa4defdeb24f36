"""The offline default classifier: keyword rules for Russian and English, dates by dateparser.

Why rules: the nightly batch must file every message even with no network and no
model, and the owner must be able to see *why* something became a task. Rules are
deterministic, fast and explainable; a model-backed classifier can replace them
later and both answer with the same :class:`Classification`.

How one message (with its reply chain) is read:

1. Each text is cleaned (control characters and NULs dropped, length capped) so
   that odd input can never make a regex or dateparser misbehave. Secrets
   (passwords, PINs, card numbers, codes: :mod:`.extract.secrets`) are masked
   right away, so no title or summary can show them, and make the item a
   ``sensitive`` note.
2. Machine-readable tokens are pulled out first - URLs, e-mails, phones,
   @usernames, #hashtags, sums of money with a currency or a scale
   (:mod:`.extract.money`: "8 400 ₽", "3к", "три тысячи рублей", "fifteen
   bucks") - and blanked in a working copy, so that the digits of a phone
   number or a price are never mistaken for a date.
3. Dates and times are *located* by a small grammar of our own (the regexes
   below) and *resolved* by dateparser, which gets a canonical phrase such as
   ``"friday 19:30"`` or ``"25 March 09:00"``. ``dateparser.search.search_dates``
   is not used on the raw text: it finds dates in ordinary words
   ("25.03 день рождения" becomes "03 день") and misses others ("в 7.50 поезд"),
   and it cannot tell us which words to cut from the title.
4. Keyword families (task verbs, meeting words, reminders, deadlines, spending
   verbs) are found in the rest; the earliest verb decides between them and a
   second, different one lowers the confidence and makes the owner be asked.
5. Values are read by the extraction layer (:mod:`.extract`): money sent to
   someone (:mod:`.extract.transfers`: "кинул Саше 1500") is an expense with
   the person; names come out in the nominative (:mod:`.extract.people`:
   "с Петром Ивановичем" → "Пётр Иванович"); a bare number is a sum only where
   money is meant (a transfer, a spending verb, an owner's "это расход") or in
   a short "thing + price" line ("бензин 2800").
6. Replies are corrections: a type word ("это встреча", "not a task, it's a
   note") in a later reply wins over any guess, and a later date overrides an
   earlier one, resolved against the *reply's own* Telegram date.

Decisions worth knowing (each one is a choice, not a fact of nature):

* Relative dates are resolved against the message's own date converted to the
  owner's zone - never the clock of the machine running the batch.
* A date without a time means :data:`DEFAULT_TIME` (09:00) local; if that moment
  has already passed when the message was sent (say "сегодня" at 15:00), the
  moment of the message itself is used instead, so nothing is born overdue.
* A time without a date is the next such time after the message (today if still
  ahead, else tomorrow); a bare hour ("в 7") is read on the 24-hour clock.
* A weekday named on that same weekday means the one a week later.
* "в 10.03" is a time (10:03), "10.03" without "в" is a date (10 March).
* Deadline words (дедлайн, deadline, due) make an *event* of kind deadline with
  ``starts_at``; a task verb with "до <date>" ("сдать отчёт до пятницы") makes a
  *task* with ``due_at``. Both are right enough; the owner can correct either.
* A sum without a currency is taken as roubles: the owner lives in Moscow. Of
  several sums, the newest message's total ("итого ...") or first one not taken
  back ("не 1500 а 1800") counts.

Not understood, on purpose or for now (the message is then asked about, or the
words simply stay in the title):

* spans without a day: "на следующей неделе", "next week", "в конце месяца", "EOD";
* "следующая пятница" / "next Friday" is read as the nearest Friday;
* dates in words ("двадцать пятого марта") and US numeric dates ("3/25");
* am/pm of a bare hour: "в 7" is 07:00; ranges ("с 10 до 12") keep their start;
* past words ("вчера"): nothing here has a field for when something happened;
* English names are found only after words that introduce a person ("with",
  "sent", "call"): there is no English name dictionary here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, tzinfo
from typing import Any, Final

import dateparser  # type: ignore[import-untyped, unused-ignore]

from superbrain_core.analyzer.classify.extract import money as money_reader
from superbrain_core.analyzer.classify.extract import people as people_reader
from superbrain_core.analyzer.classify.extract import secrets as secret_reader
from superbrain_core.analyzer.classify.extract.dates import When, extract_when
from superbrain_core.analyzer.classify.extract.money import Money
from superbrain_core.analyzer.classify.extract.transfers import find_transfer
from superbrain_core.analyzer.classify.schema import (
    CONFIDENCE_THRESHOLD,
    Classification,
    ClassifierError,
    ClassifierInput,
    EventKind,
    ItemType,
)

__all__ = ["DEFAULT_LANGUAGES", "DEFAULT_TIME", "RulesClassifier"]

DEFAULT_LANGUAGES: Final = ("ru", "en")

#: Time given to a date that came without one ("завтра", "в пятницу", "25.03").
DEFAULT_TIME: Final = time(9, 0)

TITLE_LIMIT: Final = 80
SUMMARY_LIMIT: Final = 1000

#: Only this much of each message is analysed: a pasted book must not stall the batch.
ANALYSE_LIMIT: Final = 4000

# Confidence levels. Named so that every verdict says which kind of evidence it had.
SURE: Final = 0.95  # the owner said so (a correction), or Telegram did (a shared contact)
STRONG: Final = 0.9  # two signals agree: meeting word + date, amount + currency + spent
GOOD: Final = 0.85  # one clear signal: a task verb, an amount with a currency
FAIR: Final = 0.8  # the usual fallback is usually right: a plain sentence is a note
DOUBTFUL: Final = 0.7  # two signals disagree
WEAK: Final = 0.6  # one vague signal: a meeting with no date, a bare verb

MEDIA_TYPES: Final = frozenset(
    {"photo", "document", "video", "audio", "voice", "video_note", "animation"}
)
#: Message types that carry nothing worth filing even though they are not service messages.
NOISE_TYPES: Final = frozenset({"sticker", "dice", "game"})

FILE_LABELS: Final = {
    "photo": "Фото",
    "document": "Документ",
    "video": "Видео",
    "audio": "Аудио",
    "voice": "Голосовое сообщение",
    "video_note": "Видеосообщение",
    "animation": "GIF",
    "location": "Геопозиция",
}
EVENT_LABELS: Final = {
    EventKind.MEETING: "Встреча",
    EventKind.REMINDER: "Напоминание",
    EventKind.DEADLINE: "Дедлайн",
    EventKind.OTHER: "Событие",
}

# Short Russian questions: the owner answers them with a word or two.
Q_WHEN_MEETING: Final = "Когда встреча?"
Q_WHEN_REMINDER: Final = "Когда напомнить?"
Q_WHEN_DEADLINE: Final = "Какой срок?"
Q_WHEN_EVENT: Final = "Когда?"
Q_HOW_MUCH: Final = "Сколько потратил?"
Q_WHAT_EXACTLY: Final = "Что именно?"
Q_TASK_OR_NOTE: Final = "Это задача или заметка?"
Q_EVENT_OR_TASK: Final = "Это встреча или задача?"
Q_CONTACT_OR_NOTE: Final = "Это контакт или заметка?"
Q_IS_EXPENSE: Final = "Это расход?"
Q_IS_NOTE: Final = "Сохранить как заметку?"
Q_WHAT: Final = "Что это?"

_F = re.IGNORECASE


def _words(text: str) -> tuple[str, ...]:
    """Split a word list written as prose: long keyword lists stay readable that way."""
    return tuple(text.split())


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first so "послезавтра" is tried before "завтра".

    Spaces inside a phrase ("day after tomorrow") match any run of whitespace.
    """
    return "|".join(w.replace(" ", r"\s+") for w in sorted(words, key=len, reverse=True))


# --------------------------------------------------------------------------- cleaning

#: Control, zero-width and bidi-override characters: invisible, and only ever in the way.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u202f]+")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")

# --------------------------------------------------------------------------- tokens

_URL = re.compile(r"(?<![\w@])(?:https?://|www\.|t\.me/)[^\s<>\"'«»]+", _F)
_URL_TRAILING = ".,;:!?)]}\"'»…"
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[^\W_](?:[\w-]*\w)?(?:\.[^\W_](?:[\w-]*\w)?)+")
#: Russian numbers first (+7 / 8 and ten digits in any grouping), then international ones.
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+7|8)[\s-]?\(?\d{3}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}"
    r"|\+(?!7)\d{1,3}(?:[\s-]?\(?\d{2,4}\)?){2,4}"
    r")(?!\d)"
)
_USERNAME = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_]{3,31})(?![\w@])")
_HASHTAG = re.compile(r"(?<![\w#&/])#([^\W\d_]\w{0,49})")

#: "купил 2 кофе за 300": the number right after "за"/"for" is the price.
_PRICE_CUE = re.compile(r"(?:(?<!\w)(?:за|на\s+сумму|for))\s*$", _F)
#: ... unless it is a small count: "6400 за два" is for two (tickets).
_PRICE_MINIMUM: Final = 10

# --------------------------------------------------------------------------- dates

_MONTHS_RU = _words(
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
)
_MONTHS_EN = _words(
    "January February March April May June July August September October November December"
)
_MONTH_ABBREVIATIONS_EN = ("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sept", "sep", "oct")
_MONTH_WORDS = _alternation([*_MONTHS_RU, *(m.lower() for m in _MONTHS_EN), "nov", "dec"])
_MONTH_WORDS_ALL = rf"{_MONTH_WORDS}|{_alternation(_MONTH_ABBREVIATIONS_EN)}"
_MONTH_WORDS_EN = _alternation(
    [*(m.lower() for m in _MONTHS_EN), *_MONTH_ABBREVIATIONS_EN, "nov", "dec"]
)

#: Words that may stand before a date and go with it when the title is cut.
_DAY_PREFIX = (
    r"(?P<pre>(?:(?:в|во|на|к|ко|до|по|с|со|on|by|until|till|before|from|for|this|next"
    r"|следующ\w*|ближайш\w*|эт(?:от|у|а)|наступающ\w*)\s+)*)"
)
_CLOCK_PREFIX = r"(?:(?:в|во|к|ко|до|с|со|около|at|by|from|until|around)\s+)?"
_CLOCK_PREFIX_REQUIRED = r"(?:в|во|к|ко|с|со|до|около|at|by|from|until|till|around)\s+"
_DAY_PART = r"a\.?m\.?|p\.?m\.?|утра|дня|вечера|ночи"
_DAY_CLOCK_CUE = re.compile(r"^(?:в|во|к|ко|около)\s|час|ч\.?\s", _F)
_DEADLINE_PREFIX = re.compile(r"(?:^|\s)(?:до|к|ко|by|until|till|before)\s", _F)

#: Counts written as words, by value: "через две недели", "in a couple of days".
_COUNT_WORDS: Final = {
    word: value
    for value, words in enumerate(
        (
            "",
            "один одну одна a an one",
            "два две пару пара two",
            "три three",
            "четыре four",
            "пять five",
            "шесть six",
            "семь seven",
            "восемь eight",
            "девять nine",
            "десять ten",
        )
    )
    for word in _words(words)
}
_COUNT = rf"(?P<n>\d{{1,3}}(?:[.,]5)?|(?:a\s+)?couple(?:\s+of)?|{_alternation(_COUNT_WORDS)})"
_IN = r"(?:через|in)\s+"

#: "через 2 часа", "in 30 minutes", "через полчаса": a moment, not a day.
_EXACT_DURATION = re.compile(
    rf"(?<!\w){_IN}(?:(?P<half>полчаса|half\s+an\s+hour)|(?P<oneandhalf>полтора\s+часа)"
    rf"|(?:{_COUNT}\s*)?(?P<unit>минут\w*|мин\.?|minutes?|mins?|час\w*|hours?|hrs?)(?!\w))",
    _F,
)
#: "через 3 дня", "in a week": a day, whose time comes from elsewhere or the default.
_DAY_DURATION = re.compile(
    rf"(?<!\w){_IN}(?:{_COUNT}\s*)?"
    r"(?P<unit>дн(?:я|ей)|день|days?|недел\w*|weeks?|месяц\w*|months?)(?!\w)",
    _F,
)
_ISO_DATE = re.compile(r"(?<![\w.])(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")
_DAY_MONTH_NAME = re.compile(
    rf"(?<!\w){_DAY_PREFIX}(?P<d>\d{{1,2}})(?:-?(?:го|ое|е|st|nd|rd|th))?\s+(?:of\s+)?"
    rf"(?P<m>{_MONTH_WORDS_ALL})(?!\w)\.?(?:\s+(?P<y>\d{{4}})(?:\s*(?:года|г\.|г)(?!\w))?)?",
    _F,
)
_MONTH_NAME_DAY = re.compile(
    rf"(?<!\w){_DAY_PREFIX}(?P<m>{_MONTH_WORDS_EN})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?!\w)"
    r"(?:,?\s+(?P<y>\d{4}))?",
    _F,
)
_NUMERIC_DATE = re.compile(
    rf"(?<![\w.,:/]){_DAY_PREFIX}(?P<d>\d{{1,2}})[./](?P<m>\d{{2}})(?:[./](?P<y>\d{{4}}|\d{{2}}))?"
    r"(?!\w|[.,:/]\d)",
    _F,
)
_DAY_WORDS: Final = {
    "сегодня": "today",
    "завтра": "tomorrow",
    "послезавтра": "day after tomorrow",
    "today": "today",
    "tomorrow": "tomorrow",
    "day after tomorrow": "day after tomorrow",
}
_DAY_WORD = re.compile(
    rf"(?<!\w){_DAY_PREFIX}(?P<w>{_alternation(_DAY_WORDS)})(?!\w)",
    _F,
)
#: Weekdays by their first three letters, Russian or English.
_WEEKDAYS: Final = dict(
    zip(
        _words("пон вто сре чет пят суб вос mon tue wed thu fri sat sun"),
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday") * 2,
        strict=True,
    )
)
_WEEKDAY = re.compile(
    rf"(?<!\w){_DAY_PREFIX}(?P<w>понедельник\w*|вторник\w*|сред[аеуы]|четверг\w*|пятниц\w*"
    r"|суббот\w*|воскресень\w*|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|выходны[ехм]|(?:the\s+)?weekend)(?!\w)",
    _F,
)
_CLOCK_COLON = re.compile(
    rf"(?<![\w.:]){_CLOCK_PREFIX}(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?![\d:])"
    rf"(?:\s*(?P<part>{_DAY_PART})(?!\w))?",
    _F,
)
#: "в 7.50": only after "в"/"at", because "7.50" alone (or "до 10.03") is as likely a date.
_CLOCK_DOT = re.compile(
    r"(?<!\w)(?:в|во|at)\s+(?P<h>[01]?\d|2[0-3])\.(?P<mi>[0-5]\d)(?!\d|[.,]\d)"
    rf"(?:\s*(?P<part>{_DAY_PART})(?!\w))?",
    _F,
)
_CLOCK_HOUR_PART = re.compile(
    rf"(?<![\w.,:]){_CLOCK_PREFIX}(?P<h>\d{{1,2}})\s*(?:(?:час(?:а|ов)?|ч\.?)\s*)?"
    rf"(?P<part>{_DAY_PART})(?!\w)",
    _F,
)
_CLOCK_HOUR_UNIT = re.compile(
    rf"(?<!\w){_CLOCK_PREFIX_REQUIRED}(?P<h>[01]?\d|2[0-3])\s*"
    r"(?:час(?:а|ов)?|ч\.?|h|o'?clock)(?!\w)",
    _F,
)
#: "в 7" only when what follows cannot be the noun the number counts ("в 7 классе").
_CLOCK_BARE_HOUR = re.compile(
    rf"(?<!\w){_CLOCK_PREFIX_REQUIRED}(?P<h>[01]?\d|2[0-3])(?![\w%]|[.,:]\d)"
    r"(?=\s*(?:$|[,.;!?)\n—–-]|(?:с|со|у|и|на|в|во|по|к|до|with|and|on|at|for|to|till|until"
    r"|tomorrow|today"
    r"|завтра|сегодня|послезавтра)(?!\w)))",
    _F,
)
#: "завтра в 10 позвонить": right after a named day, "в 10" is a time whatever follows.
_CLOCK_HOUR_AFTER_DAY = re.compile(
    rf"(?<!\w){_CLOCK_PREFIX_REQUIRED}(?P<h>[01]?\d|2[0-3])(?![\w%]|[.,:]\d)", _F
)
_DAY_BEFORE = re.compile(
    rf"(?:{_alternation(_DAY_WORDS)}|понедельник\w*|вторник\w*|сред[аеуы]|четверг\w*"
    rf"|пятниц\w*|суббот\w*|воскресень\w*|monday|tuesday|wednesday|thursday|friday|saturday"
    rf"|sunday|\d{{1,2}}[./]\d{{2}}|{_MONTH_WORDS_ALL})[\s,]*$",
    _F,
)
_CLOCK_WORDS: Final = {"полдень": "12:00", "noon": "12:00", "полночь": "00:00", "midnight": "00:00"}
_CLOCK_WORD = re.compile(
    rf"(?<!\w)(?:(?:в|at)\s+)?(?P<w>{_alternation(_CLOCK_WORDS)})(?!\w)",
    _F,
)
#: Parts of the day: a time only when a day is named too ("завтра вечером").
_VAGUE_CLOCKS: Final = {
    "утром": "09:00",
    "днём": "13:00",
    "днем": "13:00",
    "в обед": "13:00",
    "вечером": "19:00",
    "ночью": "23:00",
    "in the morning": "09:00",
    "in the afternoon": "14:00",
    "in the evening": "19:00",
    "at night": "23:00",
    "this morning": "09:00",
    "this evening": "19:00",
    "tonight": "20:00",
}
_VAGUE_CLOCK = re.compile(
    rf"(?<!\w)(?P<w>{_alternation(_VAGUE_CLOCKS)})(?!\w)",
    _F,
)

# --------------------------------------------------------------------------- keywords

_TASK_VERBS_RU = _words(
    """
    купить сделать позвонить написать отправить оплатить заплатить забрать записаться записать
    подготовить сдать проверить заказать починить отвезти забронировать найти прочитать
    посмотреть выучить помыть убрать продлить ответить спросить узнать договориться отнести
    принести заполнить подписать получить сходить съездить поменять отменить перевести скинуть
    распечатать подать обновить доделать закончить отдать вернуть кинуть
    купи сделай позвони напиши отправь оплати забери закажи скинь кинь переведи верни отдай
    """
)
_TASK_MODALS_RU = _words(r"надо нужно необходимо не\s+забыть не\s+забудь должен должна")
_TASK_VERBS_EN = _words(
    r"""
    buy call(?!\s+with) do send pay write email book order fix finish submit prepare check
    pick\s+up return renew get make clean cancel read reply ask
    """
)
_TASK_MODALS_EN = _words(
    r"""
    need\s+to needs\s+to must have\s+to has\s+to don'?t\s+forget do\s+not\s+forget
    remember\s+to todo to-do
    """
)
_TASK_VERB = re.compile(
    rf"(?<!\w)(?:{_alternation(_TASK_VERBS_RU)})(?!\w)"
    # English verbs only in the imperative position, so "I do like it" is not a task.
    rf"|(?:(?:^|(?<=[\n.;!?:]))\s*|(?<!\w)(?:to|please|must|should|gotta)\s+)"
    rf"(?:{_alternation(_TASK_VERBS_EN)})(?!\w)",
    _F,
)
_TASK_MODAL = re.compile(
    rf"(?<!\w)(?:{_alternation([*_TASK_MODALS_RU, *_TASK_MODALS_EN])})(?!\w)",
    _F,
)
_MEETING = re.compile(
    r"(?<!\w)(?:встре[чт]\w*|созвон\w*|совещани\w*|митинг\w*|планерк\w*|планёрк\w*"
    r"|собеседовани\w*|переговор\w*|стендап\w*|meeting\w*|meet(?:\s+(?:with|up))?"
    r"|call\s+with|sync|standup|stand-up|interview)(?!\w)",
    _F,
)
_REMINDER = re.compile(r"(?<!\w)(?:напомни\w*|напоминани\w*|remind\w*)(?!\w)", _F)
_DEADLINE = re.compile(
    r"(?<!\w)(?:дедлайн\w*|крайн\w+\s+срок\w*|срок\s+сдачи|deadline\w*|due(?!\s+to))(?!\w)", _F
)
_SPENDING = re.compile(
    r"(?<!\w)(?:потратил\w*|потрачено|заплатил\w*|оплатил[аи]?|купил[аи]?|стоил[аои]?"
    r"|обошл\w*|отдал[аи]?|списали|чек(?:а|у|ом)?|расход\w*|трат[аыу]"
    r"|spent|paid|bought|costs?|receipt|expense\w*)(?![\w-])",
    _F,
)
_EVENT_NOUN = re.compile(
    r"(?<!\w)(?:д(?:ень|ня)\s+рождения|др|днюх\w*|праздник\w*|концерт\w*|спектакл\w*|театр\w*"
    r"|кино|поезд\w*|самол[её]т\w*|рейс\w*|вылет\w*|прил[её]т\w*|электричк\w*|при[её]м[аеу]?"
    r"|врач\w*|стоматолог\w*|свадьб\w*|вечеринк\w*|экзамен\w*|ужин\w*|обед|тренировк\w*"
    r"|birthday|party|concert|flight"
    r"|train|appointment|dentist|doctor|wedding|dinner|lunch|exam)(?!\w)",
    _F,
)
_CONTACT_CUE = re.compile(
    r"(?<!\w)(?:тел|телефон\w*|номер\w*|моб|мобильн\w*|контакт\w*|e-?mail|почт[аыу]|phone"
    r"|tel|mobile|contact|tg|telegram|телеграм\w*|whatsapp|ватсап)(?!\w)\.?",
    _F,
)
_CHITCHAT_WORDS = (
    r"привет|здравствуй\w*|спасибо|ок|окей|ага|угу|да|нет|хорошо|понял\w*|ясно|ладно"
    r"|hi|hello|hey|thanks|thank\s+you|ok|okay|yes|no|sure|cool|lol"
)
#: A message made only of these is small talk, not something to file.
_CHITCHAT = re.compile(rf"(?:{_CHITCHAT_WORDS})(?:\s+(?:{_CHITCHAT_WORDS}))*", _F)
_FILLER = re.compile(
    r"^(?:\s*(?:надо|нужно|необходимо|не\s+забыть|не\s+забудь|напомни(?:ть)?(?:\s+мне)?"
    r"|пожалуйста|todo|to-do|задача|заметка|please|remind\s+me(?:\s+to)?|i\s+need\s+to"
    r"|need\s+to|don'?t\s+forget(?:\s+to)?|remember\s+to|i\s+must|must|have\s+to)(?!\w)"
    r"[\s:,.\-—–]*)+",
    _F,
)

# --------------------------------------------------------------------------- corrections

#: Type words a reply may use to correct the guess, with what each one means.
_TYPE_WORDS: Final[tuple[tuple[str, ItemType, EventKind | None], ...]] = (
    (r"встреч\w*|созвон\w*|meeting", ItemType.EVENT, EventKind.MEETING),
    (r"напоминани\w*|reminder", ItemType.EVENT, EventKind.REMINDER),
    (r"дедлайн\w*|deadline", ItemType.EVENT, EventKind.DEADLINE),
    (r"событи\w*|мероприяти\w*|event", ItemType.EVENT, None),
    (r"задач\w*|task|todo|to-do", ItemType.TASK, None),
    (r"заметк\w*|иде[яюи]|note|idea", ItemType.NOTE, None),
    (r"расход\w*|трат[аыу]|покупк\w*|expense|spending|purchase", ItemType.EXPENSE, None),
    (r"контакт\w*|contact", ItemType.CONTACT, None),
    (r"ссылк\w*|link|bookmark", ItemType.LINK, None),
    (r"файл\w*|документ\w*|file", ItemType.FILE, None),
    (r"мусор|спам|spam|junk", ItemType.NONE, None),
)
_TYPE_WORD_GROUPS = [f"(?P<t{i}>{pattern})" for i, (pattern, _, _) in enumerate(_TYPE_WORDS)]
_TYPE_WORD = rf"(?:{'|'.join(_TYPE_WORD_GROUPS)})(?!\w)"
_NEGATIVE_CORRECTION = re.compile(
    rf"(?<!\w)(?:это\s+)?(?:не|not|isn'?t|is\s+not)\s+(?:(?:a|an|really|просто)\s+)*{_TYPE_WORD}",
    _F,
)
_POSITIVE_CORRECTION = re.compile(
    rf"(?:(?<!\w)(?:это|а|but|it'?s|it\s+is|this\s+is|that'?s|make\s+it|as)\s+"
    rf"(?:(?:же|просто|была?|скорее|just|a|an|really)\s+)*"
    rf"|^\s*(?:(?:нет|no|nope)(?!\w)[\s,.!:\-—–]*)?){_TYPE_WORD}",
    _F,
)
#: "Задача: ..." at the very start of the root message names its type too.
_TYPE_PREFIX = re.compile(rf"^\s*{_TYPE_WORD}\s*[:\-—–]", _F)

# --------------------------------------------------------------------------- people

_CAPITALISED = re.compile(r"^[A-ZА-ЯЁ][a-zа-яё]+(?:-[A-ZА-ЯЁ][a-zа-яё]+)?$")
#: Capitalised words that are dates, not names ("с Понедельника", "Завтра").
_NOT_A_NAME = re.compile(
    rf"^(?:{_alternation(_DAY_WORDS)}|понедельн|вторн|сред|четверг|пятниц|суббот|воскрес|monday"
    rf"|tuesday|wednesday|thursday|friday|saturday|sunday|{_MONTH_WORDS_ALL}|утр|вечер)",
    _F,
)


def _is_name(word: str) -> bool:
    return _NOT_A_NAME.match(word) is None


# --------------------------------------------------------------------------- small values


@dataclass(frozen=True, slots=True)
class _When:
    """A date/time named in one message, still unresolved.

    ``day`` and ``clock`` are the canonical phrases handed to dateparser
    (``"friday"``, ``"25 March 2027"``, ``"in 3 days"``; ``"19:30"``); ``exact``
    is a duration that names a moment ("in 90 minutes"). ``base`` is the local
    wall-clock time of the message that said it, which relative words resolve against.
    """

    base: datetime
    day: str | None = None
    clock: str | None = None
    exact: str | None = None
    by: bool = False  # "до пятницы", "by Friday": the date is a limit


@dataclass(frozen=True, slots=True)
class _Correction:
    type: ItemType
    kind: EventKind | None


@dataclass(slots=True)
class _Facts:
    """Everything read from one message of the chain."""

    text: str
    base: datetime
    cut: list[tuple[int, int, str]] = field(default_factory=list)  # spans and what they hold
    urls: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    amounts: list[Money] = field(default_factory=list)  # sums beyond doubt (currency or scale)
    sensitive: bool = False  # a secret was found (and masked in ``text``)
    when: _When | None = None
    positive: list[_Correction] = field(default_factory=list)
    negative: set[ItemType] = field(default_factory=set)
    rest: str = ""  # the text with tokens and corrections blanked: where keywords are sought
    plain: str = ""  # the text with everything but amounts blanked: where sums and names are read


@dataclass(frozen=True, slots=True)
class _Verdict:
    type: ItemType
    confidence: float
    kind: EventKind | None = None
    question: str | None = None


@dataclass(slots=True)
class _Chain:
    """The facts of the root and every user reply, combined the way the owner meant them."""

    root: _Facts
    messages: list[_Facts]
    message_type: str
    has_files: bool
    file_title: str | None
    when: datetime | None
    when_is_limit: bool
    correction: _Correction | None
    excluded: set[ItemType]
    families: dict[str, int]
    amount: Money | None
    rest_words: int
    has_letters: bool
    people: tuple[str, ...] = ()
    priced: bool = False  # a short "thing + price" line: "бензин 2800"
    sensitive: bool = False


# --------------------------------------------------------------------------- the classifier


class RulesClassifier:
    """Classifies by keyword rules and dateparser; no network, no model, no state.

    ``languages`` are handed to dateparser (the keyword lists are always Russian
    and English); ``default_time`` is the time of day given to a date named
    without one. The instance holds no per-message state, so one instance may
    serve any number of concurrent ``classify`` calls. dateparser is synchronous
    and takes about a millisecond, so it is called inline rather than in a thread.
    """

    name: str = "rules"
    version: str = "1.1"

    def __init__(
        self,
        *,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        default_time: time = DEFAULT_TIME,
    ) -> None:
        self._languages = list(languages)
        self._default_clock = default_time.strftime("%H:%M")

    async def classify(self, item: ClassifierInput) -> Classification:
        """Classify ``item`` and its chain; odd input yields ``none``/``note``, never an error.

        A :class:`ClassifierError` (not retryable) is raised only for a bug in
        these rules, so the batch records it instead of crashing.
        """
        try:
            return self.classify_sync(item)
        except ClassifierError:
            raise
        except Exception as exc:  # a bug here must not take the batch down
            raise ClassifierError(
                f"rules classifier failed on message {item.message_id}: {exc!r}", retryable=False
            ) from exc

    def classify_sync(self, item: ClassifierInput) -> Classification:
        """:meth:`classify` for callers without an event loop (benchmarks, notebooks)."""
        chain = self._read_chain(item)
        verdict = _decide(chain)
        if verdict.type in {ItemType.NOTE, ItemType.NONE} and not chain.sensitive:
            verdict = _dated(item, verdict)
        return self._build(item, chain, verdict)

    async def aclose(self) -> None:
        """Nothing to release: the classifier holds no connections."""

    # ------------------------------------------------------------------ reading

    def _read_chain(self, item: ClassifierInput) -> _Chain:
        root = _read_message(item.text, _local(item.message_date, item.timezone), is_root=True)
        replies = [
            _read_message(m.text, _local(m.date, item.timezone), is_root=False)
            for m in item.clarifications
            if not m.from_bot
        ]
        messages = [root, *replies]
        correction, excluded = _corrections(messages)
        rest = "\n".join(m.rest for m in messages)
        undated = _without_dates(messages)  # keywords are sought here: "on Monday buy milk"
        plain = "\n".join(m.plain for m in messages)  # same offsets as ``undated``
        when, when_is_limit = self._merge_dates(messages, item.timezone)
        files_text = root.text.strip()
        families = _families(undated)
        named = _named(messages)
        transfer = find_transfer(plain, people=named)
        if transfer is not None:
            families["spending"] = min(families.get("spending", transfer.start), transfer.start)
        money_meant = "spending" in families or (
            correction is not None and correction.type is ItemType.EXPENSE
        )
        amount, priced = _pick_amount(messages, families, money_meant)
        amount = _with_currency(amount, messages)
        return _Chain(
            root=root,
            messages=messages,
            message_type=item.message_type or "",
            has_files=bool(item.files),
            file_title=_file_title(item, files_text),
            when=when,
            when_is_limit=when_is_limit,
            correction=correction,
            excluded=excluded,
            families=families,
            amount=amount,
            rest_words=len(_WORD.findall(_strip_contact_words(undated))),
            has_letters=bool(_LETTER_OR_DIGIT.search(rest)),
            people=_fullest(_unique(p.name for p in named)),
            priced=priced,
            sensitive=any(m.sensitive for m in messages),
        )

    def _merge_dates(self, messages: list[_Facts], zone: tzinfo) -> tuple[datetime | None, bool]:
        """Combine the dates of the chain, newest winning, and resolve the result.

        A newer day replaces the older one but keeps an older time ("перенеси на
        пятницу" keeps 19:30); a newer time alone keeps the older day ("давай в
        15:00"). A duration ("через 2 часа") replaces everything. Each part is
        resolved against the base of the message that said it.
        """
        day: _When | None = None
        clock: _When | None = None
        exact: _When | None = None
        for facts in messages:
            when = facts.when
            if when is None:
                continue
            if when.exact:
                day, clock, exact = None, None, when
                continue
            exact = None
            if when.day:
                day = when
            if when.clock:
                clock = when
        if exact is not None:
            return self._resolve(exact.exact or "", exact.base, zone), False
        if day is not None:
            return self._resolve_day(day, clock.clock if clock else None, zone), day.by
        if clock is not None:
            return self._resolve(clock.clock or "", clock.base, zone), clock.by
        return None, False

    def _resolve_day(self, day: _When, clock: str | None, zone: tzinfo) -> datetime | None:
        """Resolve a day phrase, with the given time or the default one.

        dateparser gets the *midnight* of the message's day as its base, so that
        "11 марта" said on 11 March at 15:00 is today, not next year; a default
        time that is already past on the message's day falls back to the message itself.
        """
        midnight = day.base.replace(hour=0, minute=0)
        if clock is not None:
            return self._resolve(f"{day.day} {clock}", midnight, zone)
        resolved = self._resolve(f"{day.day} {self._default_clock}", midnight, zone)
        moment = day.base.replace(tzinfo=zone)
        if resolved is not None and resolved < moment:
            return moment
        return resolved

    def _resolve(self, phrase: str, base: datetime, zone: tzinfo) -> datetime | None:
        """One dateparser call: a canonical phrase, a naive local base, an aware answer.

        The phrase is wall-clock time in the owner's zone, so dateparser is told
        nothing about zones (its answer is then independent of the machine's zone)
        and the owner's zone is attached afterwards.
        """
        settings: dict[str, Any] = {
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "DMY",
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
        try:
            parsed = dateparser.parse(phrase, languages=self._languages, settings=settings)
        except (ValueError, OverflowError, TypeError, KeyError):
            return None
        if not isinstance(parsed, datetime):
            return None
        if parsed.tzinfo is not None:
            return parsed.astimezone(zone)
        return parsed.replace(tzinfo=zone)

    # ------------------------------------------------------------------ building

    def _build(self, item: ClassifierInput, chain: _Chain, verdict: _Verdict) -> Classification:
        kind = verdict.kind if verdict.type is ItemType.EVENT else None
        confidence = verdict.confidence
        question = verdict.question
        if confidence < CONFIDENCE_THRESHOLD and question is None:
            question = Q_WHAT
        contact = _last(m.phones for m in chain.messages), _last(m.emails for m in chain.messages)
        username = _last(m.usernames for m in chain.messages)
        people = chain.people
        if verdict.type is ItemType.CONTACT:
            name = _contact_person(chain)
            people = (name,) if name else ()
        amount = chain.amount
        starts_at = due_at = ends_at = None
        recurrence = None
        # Not when the owner is asked when it is: a vague "на следующей неделе"
        # gets a question, not a made-up Monday.
        when = _extracted_when(item) if verdict.question is None else None
        # The rules' own reading of a date stands; the extraction layer adds what
        # they cannot say (an end, a rule) and fills a date they did not see.
        if verdict.type is ItemType.EVENT:
            starts_at = chain.when or (when.event_start() if when else None)
            if when is not None:
                ends_at, recurrence = when.end, when.recurrence
        elif verdict.type is ItemType.TASK:
            due_at = chain.when or (when.task_due() if when else None)
        return Classification(
            type=verdict.type,
            confidence=confidence,
            classifier=self.name,
            classifier_version=self.version,
            title=_title(chain, verdict.type, kind),
            summary=_summary(chain) if verdict.type is not ItemType.NONE else None,
            starts_at=starts_at,
            due_at=due_at,
            ends_at=ends_at,
            recurrence=recurrence,
            event_kind=kind,
            # Any: mypy's attrs plugin cannot type the schema's ``converter=tuple``.
            people=people,
            tags=_unique(t for m in chain.messages for t in m.tags),
            amount=amount.amount if amount else None,
            currency=amount.code if amount else None,
            url=_first(m.urls for m in chain.messages),
            phone=contact[0],
            email=contact[1],
            username=username,
            needs_clarification=question is not None,
            question=question,
            sensitive=chain.sensitive,
        )


def _dated(item: ClassifierInput, verdict: _Verdict) -> _Verdict:
    """A note or nothing that names a time the rules did not see ("с павлом на
    футбол в вс", "конфа 2–4 февраля") is an event, asked about when unsure; a
    deadline ("до пятницы") makes it a task."""
    if verdict.confidence >= STRONG:  # a tagged note is a note, dated or not
        return verdict
    when = _extracted_when(item)
    if when is None or not (when.has_time or when.end or when.recurrence or when.is_deadline):
        return verdict
    if when.is_deadline:
        return _Verdict(ItemType.TASK, FAIR)
    return _Verdict(ItemType.EVENT, FAIR, EventKind.OTHER)


def _extracted_when(item: ClassifierInput) -> When | None:
    """The date a lone message names, read by :mod:`.extract.dates` (periods, loose
    times, typos, US dates, recurrence); None for a clarified chain, whose parts
    the rules merge message by message (:meth:`RulesClassifier._merge_dates`)."""
    if not item.text or any(not m.from_bot for m in item.clarifications):
        return None
    if item.message_type.startswith("service:"):
        return None
    now = item.message_date
    if now.tzinfo is None:  # taken as UTC, as everywhere in the rules
        now = now.replace(tzinfo=UTC)
    return extract_when(_clean(item.text), now, item.timezone)


# --------------------------------------------------------------------------- reading one text


def _local(moment: datetime, zone: tzinfo) -> datetime:
    """The owner's naive wall-clock time of ``moment`` (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def _clean(text: str | None) -> str:
    """Text safe to analyse: NFC, no control characters, single spaces, capped in length."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text[: ANALYSE_LIMIT * 2])
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    if len(text) > ANALYSE_LIMIT:  # cut between words, so no half word is read
        text = text[:ANALYSE_LIMIT].rsplit(None, 1)[0]
    return text.strip()


def _read_message(raw: str | None, base: datetime, *, is_root: bool) -> _Facts:
    text = _clean(raw)
    found = secret_reader.scan(text)
    if found.secrets:  # masked before anything else reads it: no title can show it
        text = secret_reader.mask(text, found.secrets)
    facts = _Facts(text=text, base=base, sensitive=found.sensitive)
    work = facts.text
    work = _take_tokens(facts, work)
    work = _take_corrections(facts, work, is_root=is_root)
    facts.rest = work
    facts.when = _find_when(facts, work)
    plain = facts.text
    for start, end, what in facts.cut:
        if what != "amount":
            plain = _blank(plain, start, end)
    facts.plain = plain
    return facts


def _blank(text: str, start: int, end: int) -> str:
    """``text`` with ``[start, end)`` replaced by spaces: offsets stay valid for later passes."""
    return text[:start] + " " * (end - start) + text[end:]


def _take_tokens(facts: _Facts, work: str) -> str:
    """Record URLs, e-mails, phones, usernames, hashtags and amounts, blanking each."""
    for match in list(_URL.finditer(work)):
        url = match.group().rstrip(_URL_TRAILING)
        facts.urls.append(url)
        facts.cut.append((match.start(), match.start() + len(url), "url"))
        work = _blank(work, match.start(), match.start() + len(url))
    for match in list(_EMAIL.finditer(work)):
        facts.emails.append(match.group())
        facts.cut.append((match.start(), match.end(), "contact"))
        work = _blank(work, match.start(), match.end())
    for match in list(_PHONE.finditer(work)):
        phone = _normalise_phone(match.group())
        if phone is None:
            continue
        facts.phones.append(phone)
        facts.cut.append((match.start(), match.end(), "contact"))
        work = _blank(work, match.start(), match.end())
    for match in list(_USERNAME.finditer(work)):
        facts.usernames.append(match.group(1))
        facts.cut.append((match.start(), match.end(), "username"))
        work = _blank(work, match.start(), match.end())
    for match in list(_HASHTAG.finditer(work)):
        facts.tags.append(match.group(1))
        facts.cut.append((match.start(), match.end(), "tag"))
        work = _blank(work, match.start(), match.end())
    for money in money_reader.find_money(work):
        if not (money.sure or money.total):
            continue  # a bare number may be a time or a date: read after the dates
        facts.amounts.append(money)
        facts.cut.append((money.start, money.end, "amount"))
        work = _blank(work, money.start, money.end)
    return work


def _normalise_phone(raw: str) -> str | None:
    """E.164-ish: ``+79991234567``; a Russian leading 8 becomes +7. None if not a phone."""
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("8") and len(digits) == 11:
        digits = "7" + digits[1:]
    if not 10 <= len(digits) <= 15:
        return None
    return "+" + digits


def _take_corrections(facts: _Facts, work: str, *, is_root: bool) -> str:
    """Find type words that correct the guess; blank them so they are not read as keywords.

    Only replies correct ("это встреча", "нет, это расход", "not a task"); the
    root may only name its type as a prefix ("Задача: ...").
    """
    for match in list(_NEGATIVE_CORRECTION.finditer(work)):
        facts.negative.add(_type_word(match).type)
        facts.cut.append((match.start(), match.end(), "correction"))
        work = _blank(work, match.start(), match.end())
    pattern = _TYPE_PREFIX if is_root else _POSITIVE_CORRECTION
    for match in list(pattern.finditer(work)):
        facts.positive.append(_type_word(match))
        facts.cut.append((match.start(), match.end(), "correction"))
        work = _blank(work, match.start(), match.end())
    return work


def _type_word(match: re.Match[str]) -> _Correction:
    for index, (_, item_type, kind) in enumerate(_TYPE_WORDS):
        if match.group(f"t{index}") is not None:
            return _Correction(item_type, kind)
    raise AssertionError("a type word matched without a group")  # pragma: no cover


# --------------------------------------------------------------------------- dates in one text


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    role: str  # "day", "clock", "exact" or "vague"
    value: str
    by: bool = False


def _find_when(facts: _Facts, work: str) -> _When | None:
    """Locate the first day, time and duration in ``work``; record their spans for the title."""
    found = list(_date_expressions(work))
    if not found:
        return None
    for item in found:
        if item.role != "vague":
            facts.cut.append((item.start, item.end, "date"))
    first: dict[str, _Found] = {}
    for item in sorted(found, key=lambda f: f.start):
        first.setdefault(item.role, item)
    exact, day, clock, vague = (first.get(r) for r in ("exact", "day", "clock", "vague"))
    if exact is not None and (day is None or exact.start < day.start):
        return _When(base=facts.base, exact=exact.value)
    if day is None and vague is not None and vague.value == _VAGUE_CLOCKS["tonight"]:
        day = _Found(vague.start, vague.end, "day", "today")
    if clock is None and day is not None and vague is not None:
        clock = vague
    if day is None and clock is None:
        return None
    if vague is not None and vague in (day, clock):
        facts.cut.append((vague.start, vague.end, "date"))
    return _When(
        base=facts.base,
        day=day.value if day else None,
        clock=clock.value if clock else None,
        by=bool((day and day.by) or (clock and clock.by)),
    )


def _date_expressions(text: str) -> Iterator[_Found]:
    """Every date/time expression, the more specific patterns claiming their text first."""
    claimed = bytearray(len(text))  # one flag a character: linear even for "завтра" * 1000
    for finder in _FINDERS:
        for found in finder(text):
            if not any(claimed[found.start : found.end]):
                claimed[found.start : found.end] = b"\x01" * (found.end - found.start)
                yield found


def _is_by(match: re.Match[str]) -> bool:
    prefix = match.groupdict().get("pre") or ""
    return bool(_DEADLINE_PREFIX.search(" " + prefix))


def _count(raw: str | None) -> float:
    if not raw:
        return 1.0
    raw = raw.lower().replace(",", ".")
    if "couple" in raw:
        return 2.0
    if raw in _COUNT_WORDS:
        return float(_COUNT_WORDS[raw])
    return float(raw)


def _find_exact_durations(text: str) -> Iterator[_Found]:
    for m in _EXACT_DURATION.finditer(text):
        if m.group("half"):
            minutes = 30.0
        elif m.group("oneandhalf"):
            minutes = 90.0
        else:
            unit = m.group("unit").lower()
            minutes = _count(m.group("n")) * (1 if unit.startswith(("мин", "min")) else 60)
        yield _Found(m.start(), m.end(), "exact", f"in {round(minutes)} minutes")


def _find_day_durations(text: str) -> Iterator[_Found]:
    for m in _DAY_DURATION.finditer(text):
        unit = m.group("unit").lower()
        word = "days" if unit[0] in "дd" else "weeks" if unit[0] in "нw" else "months"
        count = _count(m.group("n"))
        if count != int(count):
            continue  # "через 1.5 дня" is too vague to pretend precision
        yield _Found(m.start(), m.end(), "day", f"in {int(count)} {word}")


def _month_day(day: str, month: str, year: str | None) -> str:
    return f"{int(day)} {month} {year}" if year else f"{int(day)} {month}"


def _find_iso_dates(text: str) -> Iterator[_Found]:
    for m in _ISO_DATE.finditer(text):
        month = int(m.group("m"))
        if 1 <= month <= 12:
            phrase = _month_day(m.group("d"), _MONTHS_EN[month - 1], m.group("y"))
            yield _Found(m.start(), m.end(), "day", phrase)


def _find_named_month_dates(text: str) -> Iterator[_Found]:
    for pattern in (_DAY_MONTH_NAME, _MONTH_NAME_DAY):
        for m in pattern.finditer(text):
            if not 1 <= int(m.group("d")) <= 31:
                continue  # dateparser would read "32 марта" as March 2032
            phrase = _month_day(m.group("d"), m.group("m").lower(), m.group("y"))
            yield _Found(m.start(), m.end(), "day", phrase, _is_by(m))


def _find_numeric_dates(text: str) -> Iterator[_Found]:
    """``25.03``, ``25/03/2026``: day first, as the owner writes; the month becomes a word.

    dateparser reads "10.03" as 10:03, so the date is rewritten as "10 March"
    before it gets there.
    """
    for m in _NUMERIC_DATE.finditer(text):
        day, month = int(m.group("d")), int(m.group("m"))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            continue
        year = m.group("y")
        if year and len(year) == 2:
            year = "20" + year
        phrase = _month_day(str(day), _MONTHS_EN[month - 1], year)
        yield _Found(m.start(), m.end(), "day", phrase, _is_by(m))


def _find_day_words(text: str) -> Iterator[_Found]:
    for m in _DAY_WORD.finditer(text):
        word = re.sub(r"\s+", " ", m.group("w").lower())
        yield _Found(m.start(), m.end(), "day", _DAY_WORDS[word], _is_by(m))


def _find_weekdays(text: str) -> Iterator[_Found]:
    for m in _WEEKDAY.finditer(text):
        word = m.group("w").lower()
        if word.startswith("сред") and not m.group("pre"):
            continue  # "среда" without "в" is as likely the environment as Wednesday
        if word.startswith(("выходн", "weekend", "the weekend")):
            weekday = "saturday"
        else:
            weekday = _WEEKDAYS[word[:3]]
        yield _Found(m.start(), m.end(), "day", weekday, _is_by(m))


def _hour_24(hour: int, part: str | None) -> int | None:
    """The 24-hour hour of "7 вечера", "10 pm", "2 ночи"; None if it makes no sense."""
    part = (part or "").lower().replace(".", "")
    if not part:
        return hour if hour <= 23 else None
    if not 1 <= hour <= 12:
        return None
    if part in ("am", "утра"):
        return 0 if hour == 12 else hour
    if part == "ночи":
        return 0 if hour == 12 else hour if hour <= 5 else hour + 12
    return hour if hour == 12 else hour + 12  # pm, дня, вечера


def _clock_from(match: re.Match[str]) -> _Found | None:
    groups = match.groupdict()
    if (groups.get("part") or "").lower() == "дня" and not _DAY_CLOCK_CUE.search(match.group()):
        return None  # "2 дня" is two days; only "в 2 дня" / "2 часа дня" is 14:00
    hour = _hour_24(int(groups["h"]), groups.get("part"))
    minute = int(groups.get("mi") or 0)
    if hour is None:
        return None
    return _Found(match.start(), match.end(), "clock", f"{hour:02d}:{minute:02d}", _is_by(match))


def _find_clocks(text: str) -> Iterator[_Found]:
    for pattern in (
        _CLOCK_COLON,
        _CLOCK_DOT,
        _CLOCK_HOUR_PART,
        _CLOCK_HOUR_UNIT,
        _CLOCK_BARE_HOUR,
    ):
        for m in pattern.finditer(text):
            found = _clock_from(m)
            if found is not None:
                yield found
    for m in _CLOCK_HOUR_AFTER_DAY.finditer(text):
        if _DAY_BEFORE.search(text, max(0, m.start() - 40), m.start()):
            found = _clock_from(m)
            if found is not None:
                yield found
    for m in _CLOCK_WORD.finditer(text):
        yield _Found(m.start(), m.end(), "clock", _CLOCK_WORDS[m.group("w").lower()])


def _find_vague_clocks(text: str) -> Iterator[_Found]:
    for m in _VAGUE_CLOCK.finditer(text):
        word = re.sub(r"\s+", " ", m.group("w").lower())
        yield _Found(m.start(), m.end(), "vague", _VAGUE_CLOCKS[word])


#: In claiming order: durations before clocks ("через 2 часа" is not 02:00), clocks before
#: numeric dates ("в 7.50" is a time), numeric dates before bare words.
_FINDERS = (
    _find_exact_durations,
    _find_day_durations,
    _find_iso_dates,
    _find_named_month_dates,
    _find_clocks,
    _find_numeric_dates,
    _find_day_words,
    _find_weekdays,
    _find_vague_clocks,
)


# --------------------------------------------------------------------------- the chain


def _corrections(messages: list[_Facts]) -> tuple[_Correction | None, set[ItemType]]:
    """The newest explicit type still standing, and every type the owner ruled out.

    A type named and later denied ("это встреча" ... "нет, не встреча") is
    dropped; a type denied and later named again wins, because a named type is
    used as is and the ruled-out ones only matter when none is named.
    """
    latest: _Correction | None = None
    excluded: set[ItemType] = set()
    for facts in messages:
        if facts.negative:
            excluded |= facts.negative
            if latest is not None and latest.type in facts.negative:
                latest = None
        if facts.positive:
            latest = facts.positive[-1]
    return latest, excluded


def _families(text: str) -> dict[str, int]:
    """Where each keyword family first appears in ``text`` (the chain, root first)."""
    found: dict[str, int] = {}
    for family, pattern in (
        ("task", _TASK_VERB),
        ("modal", _TASK_MODAL),
        ("meeting", _MEETING),
        ("reminder", _REMINDER),
        ("deadline", _DEADLINE),
        ("spending", _SPENDING),
        ("event", _EVENT_NOUN),
    ):
        match = pattern.search(text)
        if match is not None:
            found[family] = match.start()
    return found


def _pick_amount(
    messages: list[_Facts], families: dict[str, int], money_meant: bool
) -> tuple[Money | None, bool]:
    """The sum the chain is about, and whether it came from a "thing + price" line.

    The newest message with a written sum (a currency or a scale) wins, the
    total or the first sum not taken back ("не 1500 а 1800"). Failing that, a
    bare number counts as roubles where money is meant (a transfer, a spending
    verb, the owner calling it an expense): the newest message first, a number
    after "за"/"for" first. With no other signal at all, a short line naming a
    thing and its price ("бензин 2800") gives its price.
    """
    for facts in reversed(messages):
        chosen = money_reader.choose(facts.amounts)
        if chosen is not None:
            return chosen, False
    if money_meant:
        for facts in reversed(messages):
            found = [m for m in money_reader.find_money(facts.plain) if m.amount > 0]
            priced = [
                m
                for m in found
                if m.amount >= _PRICE_MINIMUM and _PRICE_CUE.search(facts.plain, 0, m.start)
            ]
            chosen = money_reader.choose(priced) or money_reader.choose(found)
            if chosen is not None:
                return chosen, False
        return None, False
    if families:
        return None, False  # "встреча в переговорке 305": a number beside a verb is no price
    for facts in reversed(messages):
        item = money_reader.priced_item(facts.plain)
        if item is not None:
            return item, True
    return None, False


def _with_currency(amount: Money | None, messages: list[_Facts]) -> Money | None:
    """A sum without a written currency takes one a later reply names alone ("евро конечно")."""
    if amount is None or amount.currency is not None:
        return amount
    for facts in reversed(messages[1:]):
        for word in _WORD.findall(facts.plain):
            code = money_reader.currency_code(word)
            if code is not None and len(word) > 1:
                return replace(amount, currency=code)
    return amount


def _named(messages: list[_Facts]) -> list[people_reader.Person]:
    """The people named in the chain, with offsets in the chain's joined plain text."""
    named: list[people_reader.Person] = []
    offset = 0
    for facts in messages:
        for person in people_reader.find_people(facts.plain):
            named.append(
                people_reader.Person(person.start + offset, person.end + offset, person.name)
            )
        offset += len(facts.plain) + 1
    return named


def _without_dates(messages: list[_Facts]) -> str:
    """The chain's blanked texts with the dates blanked too, one message a line."""
    parts = []
    for facts in messages:
        text = facts.rest
        for start, end, what in facts.cut:
            if what == "date":
                text = _blank(text, start, end)
        parts.append(text)
    return "\n".join(parts)


def _strip_contact_words(text: str) -> str:
    return _CONTACT_CUE.sub(" ", text)


def _file_title(item: ClassifierInput, caption: str) -> str | None:
    if caption:
        return caption
    for raw_file in item.files:
        if raw_file.file_name:
            return raw_file.file_name
    kind = item.files[0].file_type if item.files else item.message_type
    return FILE_LABELS.get(kind or "", "Файл")


# --------------------------------------------------------------------------- deciding


def _decide(chain: _Chain) -> _Verdict:
    """The explicit correction if there is one, else the first rule-based guess not ruled out."""
    if chain.message_type.startswith("service:"):
        return _Verdict(ItemType.NONE, SURE)
    if chain.correction is not None:
        return _corrected(chain, chain.correction)
    guesses = list(_guesses(chain))
    for index, guess in enumerate(guesses):
        if guess.type in chain.excluded:
            continue
        if index == 0:
            return guess
        # The owner ruled out our best guess without naming the right one: ask.
        return _Verdict(
            guess.type,
            min(guess.confidence, DOUBTFUL),
            guess.kind,
            guess.question or f"Это {_LABELS.get(guess.type, 'заметка')}?",
        )
    return _Verdict(ItemType.NOTE, WEAK, question=Q_WHAT)


_LABELS: Final = {
    ItemType.TASK: "задача",
    ItemType.EVENT: "встреча",
    ItemType.NOTE: "заметка",
    ItemType.EXPENSE: "расход",
    ItemType.CONTACT: "контакт",
    ItemType.LINK: "ссылка",
    ItemType.FILE: "файл",
}
_FAMILY_LABELS: Final = {
    "task": "задача",
    "meeting": "встреча",
    "deadline": "дедлайн",
    "spending": "расход",
}
#: Pairs of families that do not contradict each other (either reading is right).
_COMPATIBLE: Final = frozenset(
    {frozenset({"task", "deadline"}), frozenset({"meeting", "deadline"})}
)


def _corrected(chain: _Chain, correction: _Correction) -> _Verdict:
    """The owner named the type: trust it, and ask only for what is still missing."""
    kind = correction.kind
    if correction.type is ItemType.EVENT and kind is None:
        kind = _event_kind(chain.families)
    question = None
    if correction.type is ItemType.EVENT and chain.when is None:
        question = {
            EventKind.MEETING: Q_WHEN_MEETING,
            EventKind.REMINDER: Q_WHEN_REMINDER,
            EventKind.DEADLINE: Q_WHEN_DEADLINE,
        }.get(kind or EventKind.OTHER, Q_WHEN_EVENT)
    if correction.type is ItemType.EXPENSE and chain.amount is None:
        question = Q_HOW_MUCH
    return _Verdict(correction.type, SURE, kind, question)


def _event_kind(families: dict[str, int]) -> EventKind:
    for family, kind in (
        ("reminder", EventKind.REMINDER),
        ("meeting", EventKind.MEETING),
        ("deadline", EventKind.DEADLINE),
    ):
        if family in families:
            return kind
    return EventKind.OTHER


def _guesses(chain: _Chain) -> Iterator[_Verdict]:
    """Every plausible reading, best first; the caller skips those the owner ruled out."""
    if chain.message_type in NOISE_TYPES and not chain.has_letters:
        yield _Verdict(ItemType.NONE, STRONG)
    if chain.sensitive:
        # A secret is a note whatever else it looks like (a photo of a router sticker too).
        yield _Verdict(ItemType.NOTE, STRONG)
    if chain.has_files and (chain.amount is not None or "spending" in chain.families):
        # A photo of a receipt captioned with its sum (or just "чек"): the spending is
        # what matters, and the expense row still leads back to the raw file.
        yield _Verdict(ItemType.EXPENSE, STRONG if chain.amount is not None else GOOD)
    if chain.has_files or chain.message_type in MEDIA_TYPES:
        yield _Verdict(ItemType.FILE, STRONG)
    if chain.message_type == "contact":
        yield _Verdict(ItemType.CONTACT, SURE)
    if chain.message_type == "location" and not chain.root.text:
        yield _Verdict(ItemType.NOTE, FAIR)
    yield from _by_keywords(chain)
    yield from _by_tokens(chain)
    yield _plain(chain)


def _by_keywords(chain: _Chain) -> Iterator[_Verdict]:
    """Readings from the keyword families, the earliest verb leading."""
    families = chain.families
    has_date = chain.when is not None
    if "reminder" in families:
        # "напомни" wraps whatever follows it: "напомни позвонить маме" is a reminder.
        if has_date:
            yield _Verdict(ItemType.EVENT, STRONG, EventKind.REMINDER)
        else:
            yield _Verdict(ItemType.EVENT, WEAK, EventKind.REMINDER, Q_WHEN_REMINDER)
    verbs = {f: families[f] for f in ("task", "meeting", "deadline", "spending") if f in families}
    if not verbs and "modal" in families:
        verbs["task"] = families["modal"]
    if not verbs:
        return
    ordered = sorted(verbs, key=verbs.__getitem__)
    head = ordered[0]
    rivals = [f for f in ordered[1:] if frozenset({head, f}) not in _COMPATIBLE]
    verdict = _family_verdict(chain, head)
    if rivals:
        question = f"Это {_FAMILY_LABELS[head]} или {_FAMILY_LABELS[rivals[0]]}?"
        verdict = _Verdict(verdict.type, min(verdict.confidence, DOUBTFUL), verdict.kind, question)
    yield verdict
    for rival in rivals:
        yield _family_verdict(chain, rival)


def _family_verdict(chain: _Chain, family: str) -> _Verdict:
    has_date = chain.when is not None
    if family == "meeting":
        if has_date:
            return _Verdict(ItemType.EVENT, STRONG, EventKind.MEETING)
        return _Verdict(ItemType.EVENT, WEAK, EventKind.MEETING, Q_WHEN_MEETING)
    if family == "deadline":
        if has_date:
            return _Verdict(ItemType.EVENT, STRONG, EventKind.DEADLINE)
        return _Verdict(ItemType.EVENT, WEAK, EventKind.DEADLINE, Q_WHEN_DEADLINE)
    if family == "spending":
        if chain.amount is None:
            return _Verdict(ItemType.EXPENSE, WEAK, question=Q_HOW_MUCH)
        return _Verdict(ItemType.EXPENSE, STRONG if chain.amount.sure else GOOD)
    return _task_verdict(chain)


def _task_verdict(chain: _Chain) -> _Verdict:
    """A task: sure when short and to the point, doubtful when the verb is all there is."""
    title_words = len(_WORD.findall(_FILLER.sub("", _cut_text(chain.root, {"date"}))))
    if title_words <= 1 and chain.rest_words <= 2:
        return _Verdict(ItemType.TASK, WEAK, question=Q_WHAT_EXACTLY)
    if chain.rest_words > 30:
        return _Verdict(ItemType.TASK, WEAK, question=Q_TASK_OR_NOTE)
    if "task" not in chain.families:  # only "надо"/"нужно" and an unknown verb
        return _Verdict(ItemType.TASK, FAIR if chain.when is None else GOOD)
    return _Verdict(ItemType.TASK, STRONG if chain.when is not None else GOOD)


def _by_tokens(chain: _Chain) -> Iterator[_Verdict]:
    """Readings from what the text carries: an amount, contact details, a link, a date."""
    amount = chain.amount
    if amount is not None and amount.sure:
        if chain.rest_words <= 12:
            yield _Verdict(ItemType.EXPENSE, GOOD)
        else:
            yield _Verdict(ItemType.EXPENSE, WEAK, question=Q_IS_EXPENSE)
    if amount is not None and chain.priced and chain.when is None:
        yield _Verdict(ItemType.EXPENSE, GOOD if chain.rest_words <= 4 else FAIR)
    if any(m.phones or m.emails or m.usernames for m in chain.messages):
        if chain.rest_words <= 4:
            strong = any(m.phones or m.emails for m in chain.messages)
            yield _Verdict(ItemType.CONTACT, STRONG if strong else GOOD)
        else:
            yield _Verdict(ItemType.CONTACT, WEAK, question=Q_CONTACT_OR_NOTE)
    if any(m.urls for m in chain.messages):
        yield _Verdict(ItemType.LINK, STRONG)
    if chain.when is not None and not any(m.tags for m in chain.messages):
        if chain.when_is_limit:
            yield _Verdict(ItemType.TASK, FAIR)
        elif "event" in chain.families:
            yield _Verdict(ItemType.EVENT, GOOD, EventKind.OTHER)
        else:
            yield _Verdict(ItemType.EVENT, WEAK, EventKind.OTHER, Q_EVENT_OR_TASK)


def _plain(chain: _Chain) -> _Verdict:
    """No signal at all: a note, unless there is nothing worth keeping."""
    text = "\n".join(m.text for m in chain.messages).strip()
    if not text and not chain.has_files:
        return _Verdict(ItemType.NONE, SURE)
    if not chain.has_letters and not any(m.tags for m in chain.messages):
        return _Verdict(ItemType.NONE, FAIR)  # emoji, punctuation
    if _CHITCHAT.fullmatch(re.sub(r"[\W_]+", " ", text).strip()):
        return _Verdict(ItemType.NONE, FAIR)
    if any(m.tags for m in chain.messages):
        return _Verdict(ItemType.NOTE, STRONG)  # the owner filed it on purpose
    if chain.rest_words >= 3:
        return _Verdict(ItemType.NOTE, FAIR)
    return _Verdict(ItemType.NOTE, WEAK, question=Q_IS_NOTE)


# --------------------------------------------------------------------------- output fields


def _cut_text(facts: _Facts, kinds: set[str]) -> str:
    """The message with the spans of the given kinds removed, for titles."""
    text = facts.text
    for start, end, what in sorted(facts.cut, reverse=True):
        if what in kinds or what == "correction":
            text = text[:start] + " " + text[end:]
    return text


_TITLE_CUTS: Final[dict[ItemType, set[str]]] = {
    ItemType.LINK: {"date", "url", "tag"},
    ItemType.CONTACT: {"date", "contact", "username", "tag"},
    ItemType.EXPENSE: {"date", "amount", "tag"},
    ItemType.NOTE: {"tag"},  # in a note the date is part of what was said
}


def _title(chain: _Chain, item_type: ItemType, kind: EventKind | None) -> str | None:
    """A short title: the root's words without dates, tokens and "надо"-style filler."""
    if item_type is ItemType.NONE:
        return None
    if item_type is ItemType.FILE:
        return _shorten(chain.file_title or "Файл", TITLE_LIMIT)
    if item_type is ItemType.CONTACT:
        name = _contact_person(chain) or _contact_name(chain)
        if name:
            return name
    cuts = _TITLE_CUTS.get(item_type, {"date", "tag"})
    for facts in chain.messages:  # the root, unless it was only a date or a token
        text = _tidy(_FILLER.sub("", _tidy(_cut_text(facts, cuts))))
        if _LETTER_OR_DIGIT.search(text):
            return _shorten(text[0].upper() + text[1:], TITLE_LIMIT)
    return _fallback_title(chain, item_type, kind)


def _fallback_title(chain: _Chain, item_type: ItemType, kind: EventKind | None) -> str | None:
    messages = chain.messages
    if item_type is ItemType.LINK and (url := _first(m.urls for m in messages)):
        return _domain(url)
    if item_type is ItemType.CONTACT:
        return (
            _last(m.phones for m in messages)
            or _last(m.emails for m in messages)
            or ("@" + u if (u := _last(m.usernames for m in messages)) else None)
        )
    if item_type is ItemType.EVENT:
        return EVENT_LABELS[kind or EventKind.OTHER]
    if item_type is ItemType.EXPENSE:
        return "Расход"
    text = _tidy(chain.root.text)
    if text:
        return _shorten(text, TITLE_LIMIT)
    return FILE_LABELS.get(chain.message_type)  # a location without words


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return text.strip(" ,.;:-—–")


def _domain(url: str) -> str:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.I)
    return host.split("/", 1)[0].split("?", 1)[0] or url


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-—–") + "…"


def _summary(chain: _Chain) -> str | None:
    text = "\n".join(m.text for m in chain.messages if m.text)
    return _shorten(text, SUMMARY_LIMIT) if text else None


def _contact_person(chain: _Chain) -> str | None:
    """The person a contact belongs to: the first name beside the details, in the nominative.

    Any dictionary reading of a name counts here (a contact line is known to name
    somebody: "контакт няни гули"); a surname right after it joins it ("Bob Smith").
    """
    for facts in reversed(chain.messages):  # "да, Ольга Смирнова" completes "Ольга"
        leftover = _strip_contact_words(_cut_text(facts, {"contact", "username", "url", "tag"}))
        found = people_reader.find_people(leftover, loose=True)
        if found:
            name, end = found[0].name, found[0].end
            for person in found[1:3]:
                if leftover[end : person.start].strip() or " " in name:
                    break
                name, end = f"{name} {person.name}", person.end
            return name
    return None


def _contact_name(chain: _Chain) -> str | None:
    """The name beside contact details: capitalised words, else up to three leftover words."""
    for facts in chain.messages:
        leftover = _strip_contact_words(_cut_text(facts, {"contact", "username", "url", "tag"}))
        words = _WORD.findall(leftover)
        capitalised = [w for w in words if _CAPITALISED.match(w) and _is_name(w)]
        if capitalised:
            return " ".join(capitalised[:3])
        if 0 < len(words) <= 3:
            return " ".join(words)
    return None


def _first(groups: Iterable[list[str]]) -> str | None:
    return next((g[0] for g in groups if g), None)


def _last(groups: Iterable[list[str]]) -> str | None:
    found = None
    for group in groups:
        if group:
            found = group[0]
    return found


def _fullest(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names with a shorter mention of a fuller one dropped: "Саша", "Саша Круглова"."""
    folded = [n.casefold() for n in names]
    return tuple(
        name
        for name, fold in zip(names, folded, strict=True)
        if not any(other != fold and other.startswith(fold + " ") for other in folded)
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct values in first-seen order, compared without case."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            result.append(value)
    return tuple(result)

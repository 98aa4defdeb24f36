"""The rules' grammar: word lists, regular expressions, limits and confidence levels."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from superbrain_core.analyzer.classify.schema import (
    EventKind,
    ItemType,
)

DEFAULT_LANGUAGES: Final = ("ru", "en")

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
#: A bare domain as people paste it: "docs.python.org/3/library", "github.com/psf/black",
#: "youtu.be/k9X2" - with a path, or on a top-level domain that is surely one.
_BARE_URL = re.compile(
    r"(?<![\w@./:-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:(?:[a-z]{2,12})(?=/[^\s<>\"'«»]*[\w/])/[^\s<>\"'«»]+"
    r"|(?:com|ru|org|net|io|dev|app|ai|рф)(?!\w|\.\w))",
    re.IGNORECASE,
)
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
    r"|call\s+(?:with|w/)|sync|standup|stand-up|interview)(?!\w)",
    _F,
)
_REMINDER = re.compile(
    r"(?<!\w)(?:напомни\w*|напоминай\w*|напоминалк\w*|напоминани\w*|не\s+забудь(?:те)?"
    r"|remind\w*)(?!\w)",
    _F,
)
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
    r"|поликлиник\w*|больниц\w*|массаж\w*|стрижк\w*|парикмахер\w*|барбер\w*|маникюр\w*"
    r"|нотариус\w*|ветеринар\w*|собрани[еяю]|новосель\w*|шиномонтаж\w*|анализ[ыа]?|узи|мрт"
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
    r"привет|здравствуй\w*|спасибо|спс|пасиб\w*|ок|окей|ага|угу|да|нет|хорошо|понял\w*|ясно"
    r"|ладно|норм\w*|лол|ха(?:ха)+|ах(?:ах)+|хм+|ой|ого|ну|такое|чё|че|что|как|там|тут|вот"
    r"|тест\w*|алло|вроде|работает|записывает|интересно|ли|это|вообще|короче|типа|пока"
    r"|доброе|утро|спокойной|ночи|круто|класс|супер|жесть|капец|блин"
    r"|hi|hello|hey|thanks|thank\s+you|thx|ok|okay|yes|no|sure|cool|lol|haha|test\w*"
    r"|good|night|morning|bye|nice|wow|hmm|nvm|never\s*mind|бот\w*|не\s+туда"
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
    rf"(?:(?<!\w)(?:это|а|в|во|как|but|it'?s|it\s+is|this\s+is|that'?s|make\s+it|as|to|into)\s+"
    rf"(?:(?:же|просто|была?|скорее|just|a|an|really)\s+)*"
    rf"|^\s*(?:(?:нет|no|nope)(?!\w)[\s,.!:\-—–]*)?){_TYPE_WORD}",
    _F,
)
#: A reply that takes the message back ("забей, случайно отправил", "промахнулась
#: чатом", "never mind"): nothing to file, as if the owner had said "это мусор".
_DISMISSAL = re.compile(
    r"(?<!\w)(?:(?<!не )заб(?:ей|удь)(?!\w)|случайно|нечаянно|промахну\w*|не\s+туда\b"
    r"|не\s+в\s+тот\s+чат|ошиб\w*\s+(?:чатом|окном|адресатом)|never\s*mind"
    r"|wrong\s+chat|by\s+(?:mistake|accident)|ignore\s+(?:it|this|that))",
    _F,
)
#: A note the owner labels as one at the start ("На заметку: …", "Запомнить: …",
#: "note to self: …", "идея: …"): a note however task-like the rest reads.
_NOTE_PREFIX = re.compile(
    r"^\s*(?:на\s+заметку|на\s+будущее|заметк[аи]|запомни(?:ть)?|к\s+сведению|для\s+себя"
    r"|инф[аo]|фишк[аи]|лайфхак|иде[яи](?:\s+короче)?|мысль|note\s+to\s+self|note|fyi"
    r"|for\s+the\s+record|til|idea|цитата|quote)(?!\w)\s*(?:[:\-—–]|(?=\s+\w))",
    _F,
)
#: Words that make a URL something to read or watch later, not a task.
_READ_LATER = re.compile(
    r"(?<!\w)(?:почитать|прочитать|прочесть|глянуть|посмотреть|смотреть|послушать|на\s+потом"
    r"|потом|read\s+later|to\s+read|watch\s+later|later|read|watch|check\s+out)(?!\w)",
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

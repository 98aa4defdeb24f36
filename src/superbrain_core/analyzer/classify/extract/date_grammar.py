"""The patterns of date expressions, one per kind, over text cleaned by :mod:`.date_words`.

Why they live apart from the code that reads them (:mod:`.date_parts`): each is
a small grammar of its own, and reading them side by side is how one checks
that a new form does not steal another's words. Every pattern is compiled once,
in verbose mode, from the vocabulary tables, so a new word form is added in one
place.
"""

from __future__ import annotations

import re

from .date_words import (
    COUNTS,
    EN_HOURS,
    GENITIVE_HOURS,
    HOURS,
    MINUTES,
    MONTHS,
    NTH,
    RELATIVE_DAYS,
    WEEKDAY_PLURALS,
    WEEKDAYS,
    alternation,
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.X)


WD = alternation(WEEKDAYS)
WDPL = alternation(WEEKDAY_PLURALS)
MON = alternation(MONTHS) + r"\.?"
D = r"(?:[12]\d|3[01]|0?[1-9])"
ORD = r"(?:-?(?:го|ого|е|ое)|st|nd|rd|th)"
COUNT = alternation(COUNTS)
NUM = rf"(?:\d{{1,3}}|{COUNT})"
HALF = r"(?:am|pm|a\.m\.|p\.m\.|утра|вечера|дня|ночи)(?!\w)"
NOT_UNIT = (
    r"(?!\s*(?:раз|минут|мин\b|сек|человек|чел\b|штук|шт\b|этаж|уровн|км\b|кг\b|лет\b|год|дн[яе]"
    r"|дней|недел|месяц|процент|%|руб|р\b|класс|мест|сери|x\b|х\b|times|minutes?|mins?\b|people"
    r"|floor|kg\b|km\b|years?|days?|weeks?|months?|hours?|point|of\b|ряд|кабинет|каб\b|кв\b|квартир"
    r"|подъезд|корпус|дом\b|вагон|зал\b|очеред|row|seat))"
)
NB = r"(?<![\w.,/:+-])"  # no digit or word glued on the left


def _pre(name: str) -> str:
    """An optional preposition before a clock time, captured as ``name``."""
    words = r"в|во|к|ко|at|@|около|до|by|until|till|before|после"
    return rf"(?:(?P<{name}>{words})\s+(?:(?:like|about|around|где-то|примерно)\s+)?)"


#: Between the days of a list: "пн, ср и пт", "tue and thu", "mon/wed". Written so that a
#: run of spaces can be read one way only (no quadratic backtracking on long blanks).
LIST_SEP = r"(?:\s*[,/&]\s*|\s+(?:и|and)\s+|\s+)"

# Recurrence.
RX_NTH = _rx(
    rf"\b(?:(?:every|each|on\s+the|the|в|во|каждую|каждый|каждое)\s+)?(?P<n>{alternation(NTH)})\s+"
    rf"(?P<wd>{WD})\s+(?:of\s+(?:the|every|each)\s+month|(?:каждого\s+|этого\s+)?месяца)\b"
)
RX_MDAY = _rx(
    rf"\b(?:каждое|каждый|каждого|every|each)\s+(?P<d>{D}){ORD}?(?:\s+числ[оа])?(?:\s+of\s+the\s+month)?(?!\w)"
    rf"|(?<![\w.,/:+-])(?:on\s+)?(?:the\s+)?(?P<d2>{D}){ORD}?(?:\s+числа)?\s+(?:каждого\s+месяца|каждый\s+месяц"
    rf"|of\s+(?:every|each)\s+month)\b"
)
RX_PERIODIC = _rx(
    r"\b(?:(?P<m>раз\s+в\s+месяц|каждый\s+месяц|ежемесячно|every\s+month|each\s+month|monthly)"
    r"|(?P<y>каждый\s+год|ежегодно|every\s+year|each\s+year|annually|yearly)"
    r"|(?P<w>каждую\s+неделю|раз\s+в\s+неделю|еженедельно|every\s+week|each\s+week|weekly|once\s+a\s+week)"
    r"|(?P<i2>раз\s+в\s+(?:две|2)\s+недели|каждые\s+(?:две|2)\s+недели|every\s+(?:other|two|2)\s+weeks?"
    r"|biweekly|fortnightly)"
    r"|(?P<wk>по\s+будням|в\s+будни|по\s+рабочим\s+дням|every\s+weekday|on\s+weekdays|weekdays)"
    r"|(?P<we>по\s+выходным|каждые\s+выходные|every\s+weekend|on\s+weekends|weekends)"
    r"|(?P<am>каждое\s+утро|по\s+утрам|every\s+morning|each\s+morning)"
    r"|(?P<pm>каждый\s+вечер|по\s+вечерам|every\s+evening|each\s+evening|every\s+night)"
    r"|(?P<d>каждый\s+день|каждые\s+сутки|ежедневно|every\s+day|everyday|each\s+day|daily))\b"
)
RX_EVERY_WD = _rx(
    rf"\b(?:(?:по|on)\s+(?P<pl>{WDPL}(?:{LIST_SEP}{WDPL})*)|(?P<pl2>{WDPL}(?:{LIST_SEP}{WDPL})*)"
    rf"|(?:каждый|каждую|каждое|каждые|every|each)\s+(?P<other>(?:other|second|2nd|вторую|второй)\s+)?"
    rf"(?P<list>{WD}(?:{LIST_SEP}{WD})*))(?!\w)"
)
RX_WD_LIST = _rx(rf"(?<![\w-])(?P<list>{WD}(?:(?:\s*[,/]\s*|\s+){WD})+)(?![\w-])")
# Ranges of days and of times.
RX_DRANGE = _rx(
    rf"(?:\b(?P<pre>с|со|from|between)\s+)?{NB}(?P<d1>{D}){ORD}?(?:\s+(?:of\s+)?(?P<m1>{MON}))?"
    rf"\s*(?P<sep>-|по|до|to|till|until|through|thru|and)\s*(?P<d2>{D}){ORD}?\s+(?:of\s+)?(?P<m2>{MON})"
    rf"(?:\s+(?P<y>\d{{4}}))?(?!\w)"
)
RX_DRANGE_MD = _rx(
    rf"\b(?:from\s+)?(?P<m1>{MON})\s*(?P<d1>{D}){ORD}?\s*(?:-|to|till|until|through|thru)"
    rf"\s*(?:(?P<m2>{MON})\s*)?(?P<d2>{D}){ORD}?(?:,?\s+(?P<y>\d{{4}}))?(?![\w:])"
)
RX_DRANGE_NUM = _rx(
    rf"(?:\b(?:с|со|from)\s+)?{NB}(?P<a>{D})\.(?P<am>0?[1-9]|1[0-2])\s*(?:-|по|до|to)\s*"
    rf"(?P<b>{D})\.(?P<bm>0?[1-9]|1[0-2])(?![\w.,/:])"
)
RX_DRANGE_DOM = _rx(
    rf"\b(?:с|со)\s+(?P<d1>{D})(?:-?(?:го|е))?\s+по\s+(?P<d2>{D}){ORD}?(?:\s+числ[оа])?(?!\w|[.:,]\d)"
)
RX_WRANGE = _rx(
    rf"\b(?:с|со|from)\s+(?P<w1>{WD})\s+(?:по|до|to|till|until|through|thru)\s+(?P<w2>{WD})(?!\w)"
    rf"|(?<![\w-])(?P<w3>{WD})\s*-\s*(?P<w4>{WD})(?![\w-])"
)
RX_TRANGE = _rx(
    rf"\b(?:с|со|from|between)\s+(?P<h1>[01]?\d|2[0-3])(?:[:.](?P<m1>[0-5]\d))?\s*(?P<x1>{HALF})?\s*"
    rf"(?:до|to|till|until|and|-)\s*(?P<h2>[01]?\d|2[0-4])(?:[:.](?P<m2>[0-5]\d))?(?:\s*(?P<x2>{HALF}))?"
    rf"(?![\w.,:/]|\s*\d|\s*{MON}){NOT_UNIT}"
    rf"|{NB}(?P<h3>[01]?\d|2[0-3])(?::(?P<m3>[0-5]\d))?\s*(?P<x3>am|pm)?\s*-\s*"
    rf"(?P<h4>[01]?\d|2[0-3])(?::(?P<m4>[0-5]\d))?\s*(?P<x4>am|pm)?(?![\w.,:/])"
)
# Periods and offsets.
RX_WEEK_END = _rx(
    r"\b(?:(?P<pre>к|до|by|before|until|till|в|at|на)\s+)?(?:the\s+)?(?:концу|конца|конце|end\s+of)"
    r"(?:\s+the)?(?:\s+(?P<rel>следующей|след\.?|будущей|next|этой|текущей|this))?\s+(?:недели|week)\b|\beow\b"
)
RX_WEEK = _rx(
    r"\b(?P<this>(?:на|в)\s+(?:этой|текущей)\s+неделе|на\s+неделе|в\s+течение\s+недели"
    r"|(?:sometime\s+|later\s+)?this\s+week)\b"
    r"|\b(?P<next>(?:(?:на|в)\s+)?(?:следующей|след\.?|будущей)\s+неделе|(?:the\s+)?next\s+week)(?!\w)"
    r"|\b(?P<we>на\s+(?P<n1>следующих\s+)?выходных|в\s+(?:эти\s+)?выходные"
    r"|(?:(?:this|on\s+the|at\s+the|over\s+the)\s+)?(?P<n2>next\s+)?weekend)\b"
)
RX_MONTH_PART = _rx(
    rf"\b(?:(?P<pre>к|до|by|before|until|till|в|во|на|at|in)\s+)?(?:the\s+)?(?P<part>начале|начала|начало"
    rf"|середине|середины|конце|конца|концу|beginning\s+of|start\s+of|middle\s+of|end\s+of|early|mid)"
    rf"[\s-]+(?:the\s+)?(?:(?P<rel>этого|следующего|след\.?|будущего|текущего|this|next)\s+)?"
    rf"(?P<what>месяца|month|года|year|{MON})(?!\w)"
)
RX_IN = _rx(
    rf"\b(?:через|in)\s+(?:(?P<n>{NUM})\s*)?(?P<u>минут[уы]?|мин\.?|minutes?|mins?|часа|часов|час|ч\.?|hours?"
    rf"|hrs?|h|дн(?:я|ей)|день|сутки|суток|недел[юиь]|нед\.?|месяц(?:а|ев)?|мес\.?|год(?:а)?|лет"
    rf"|days?|weeks?|wks?|months?|years?)(?!\w)"
    r"|\b(?P<half>через\s+(?:полчаса|пол\s+часа)|in\s+half\s+an\s+hour)\b"
    r"|\b(?P<ninety>через\s+полтора\s+часа|in\s+an\s+hour\s+and\s+a\s+half)\b"
)
RX_BEFORE = _rx(
    rf"\bза\s+(?:(?P<n>{NUM})\s+)?(?P<u>день|дня|дней|сутки|суток|неделю|недели|недель|час|часа|часов)\s+до\b"
    rf"|\b(?P<n2>{NUM})\s+(?P<u2>days?|weeks?|hours?)\s+before\b|\b(?P<eve>накануне|the\s+day\s+before)\b"
)
# Single days.
RX_DATE = _rx(
    rf"{NB}(?P<d>{D}){ORD}?\s*(?:of\s+)?(?P<m>{MON})(?:\s*(?P<y>\d{{4}})\s*(?:г(?:ода?)?\.?)?)?(?!\w)"
    rf"|\b(?P<m2>{MON})\s*(?P<d2>{D}){ORD}?(?:,?\s*(?P<y2>\d{{4}}))?(?![\w:.]|\.\d)"
    r"|\b(?P<iy>20\d\d)-(?P<im>\d\d)-(?P<id>\d\d)\b"
)
RX_NUM_DATE = _rx(
    rf"{NB}(?P<a>\d{{1,2}})(?P<sep>[./])(?P<b>\d{{1,2}})"
    r"(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\w.,/:]?\d|\w)"
)
RX_DOM = _rx(
    rf"(?:\b(?:on\s+)?the\s+)?{NB}(?P<d>{D})(?:-?(?:го|ого|е|ое)(?:\s+числа)?|\s+числа|st|nd|rd|th)(?!\w)"
    rf"|^\s*(?:(?:на|к)\s+)?(?P<d2>{D})(?=\s+(?:в|at)\s+\d)"
)
RX_REL = _rx(
    rf"\b(?:(?P<dat>(?:the\s+)?day\s+after\s+tomorrow)|(?P<w>{alternation(RELATIVE_DAYS)})"
    r"|(?P<tonight>tonight|tonite))(?!\w)"
)
RX_WD = _rx(
    rf"\b(?:(?P<pre>в|во|на|on|this|эту|этот|это|ближайш\w*|coming)\s+)?(?:(?:эту|этот|ближайш\w*|the)\s+)?"
    rf"(?:(?P<next>следующ\w*|след\.?|next|будущ\w*)\s+)?(?P<wd>{WD})(?!\w)"
)
# Clock times.
RX_WORD_TIME = _rx(
    rf"\b(?:(?P<pre>в|во|к|ко|около|до|at|by|before|until)\s+)?(?:(?:где-то|примерно|like|about)\s+)?"
    rf"(?:(?P<eod>eod|end\s+of\s+(?:the\s+)?day|конец\s+дня|концу\s+дня|конца\s+дня|close\s+of\s+business|cob)"
    r"|(?P<noon>полдень|полудню|полудня|noon|midday)|(?P<midnight>полночь|полуночи|midnight)"
    rf"|(?:пол\s?-?\s?|половин[еау]\s+)(?P<gen>{alternation(GENITIVE_HOURS)})"
    rf"|четверть\s+(?P<qgen>{alternation(GENITIVE_HOURS)})"
    rf"|без\s+(?P<q>четверти|двадцати\s+пяти|пятнадцати|двадцати|десяти|пяти|\d{{1,2}})(?:\s*мин\w*)?\s+"
    rf"(?P<qh>\d{{1,2}}|{alternation(HOURS)})"
    rf"|(?P<k>half|quarter|\d{{1,2}})\s+(?P<rel>past|to|after|till)\s+(?P<eh>\d{{1,2}}|{alternation(EN_HOURS)})"
    rf")(?!\w)(?:\s+(?P<x>{HALF}))?"
)
RX_SAID_HOUR = _rx(
    rf"\b(?P<pre>в|во|к|ко|at|около|до|by)\s+(?:(?:like|about|around|где-то|примерно)\s+)?"
    rf"(?P<h>{alternation(HOURS)})(?:\s+(?P<mi>{alternation(MINUTES)}))?(?:\s+(?:часов|часа|o'clock))?"
    rf"(?:\s+(?P<x>{HALF}))?(?!\w){NOT_UNIT}"
)
RX_CLOCK = _rx(
    rf"{NB}{_pre('pre')}?(?P<h>[01]?\d|2[0-3])(?P<sep>[:.\s-])(?P<mi>[0-5]\d)"
    rf"(?:\s*(?P<x>{HALF})|(?![\d:.,/-]|\w)){NOT_UNIT}"
    rf"|\b(?P<cpre>в|во|к|ко|at)\s+(?P<ch>[01]?\d|2[0-3])(?P<cmi>[0-5]\d)(?![\w.,:/])(?!\s*(?:г\b|г\.|год|шт))"
    rf"|{NB}{_pre('apre')}?(?P<ah>1[0-2]|0?[1-9])\s*(?P<ax>am|pm|a\.m\.|p\.m\.)(?!\w)"
    rf"|{NB}{_pre('ipre')}?(?P<ih>[01]?\d|2[0-3])\s*-?ish\b"
    rf"|{NB}{_pre('hpre')}(?P<hh>[01]?\d|2[0-4])(?!\d|[.,:/-]\d|\w)"
    rf"(?:\s*(?:часов|часа|час|ч\.?|h|o'clock)(?!\w))?(?:\s*(?P<hx>{HALF}))?{NOT_UNIT}"
    rf"|{NB}(?P<bh>[01]?\d|2[0-3])(?!\d|[.,:/-]\d|\w){NOT_UNIT}(?!\s+\d)"
)
RX_POD = _rx(
    r"\b(?:(?P<am>утром|с\s+утра|поутру|in\s+the\s+morning|this\s+morning)"
    r"|(?P<day>днем|в\s+обед|в\s+обеденное\s+время|at\s+lunch(?:time)?|in\s+the\s+afternoon|this\s+afternoon)"
    r"|(?P<pm>вечером|in\s+the\s+evening|this\s+evening)|(?P<weak>morning|afternoon|evening|утро|вечер))\b"
    r"|\b(?P<meal>lunch|обеда?|обедать|пообедать|dinner|ужина?|ужинать|поужинать|supper|breakfast|завтрака?"
    r"|brunch|бранч)\b"
)
LEAD = re.compile(
    r"(?<!\w)(?P<w>до|к|ко|by|until|till|before|не\s+позднее|не\s+позже|на|в|во|on|at|for)\s+(?:the\s+)?$"
)
WD_CONTEXT = re.compile(rf"\s*(?:\d|-|,?\s*(?:и|and|&)\s*{WD}\b)")
WD_BEFORE = re.compile(r"(?<!\w)(?:to|from|till|until|by|every|each|on|next|this)\s+$")
AT = re.compile(r"(?<!\w)(?:в|во|at|@)\s+$")
PURPOSE = re.compile(r"(?<!\w)(?:на|к|для|for)\s+$")

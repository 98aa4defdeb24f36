"""What kind of event: a meeting, a reminder, a deadline, or another happening.

The keyword families give the kind when a verb says it ("встреча", "напомни",
"дедлайн"); most events say it with a noun instead, and these patterns read
it the way the corpus's conventions define the kinds (``tests/corpus/README.md``):

* *meeting* - seeing or talking to people: meals with someone, appointments
  (doctor, dentist, barber, notary, vet, a named master: "к Ахмеду в
  шиномонтаж"), parents' evenings, one-on-ones;
* *reminder* - a recurring chore (pay, pills, call mum, send a report);
* *deadline* - something that expires or falls due ("страховка истекает");
* *other* - everything else: trips, leave, concerts, parties, sport and classes.
"""

from __future__ import annotations

import re
from typing import Final

from superbrain_core.analyzer.classify.rules.values import _Chain
from superbrain_core.analyzer.classify.schema import EventKind

__all__ = ["event_kind"]

_F: Final = re.IGNORECASE | re.UNICODE
_EXPIRES: Final = re.compile(
    r"(?<!\w)(?:истека\w*|заканчива\w*\s+(?:страховк|полис|виз|паспорт|подписк)\w*"
    r"|expires?|expiring|due\s+date|runs\s+out)(?!\w)",
    _F,
)
_CHORE: Final = re.compile(
    r"(?<!\w)(?:звонить|позвонить|платить|заплатить|оплат\w*|плат[её]ж\w*|полива\w*|полить"
    r"|таблетк\w*|лекарств\w*|витамин\w*|отч[её]т\w*|показани\w*|ипотек\w*|кредит\w*|аренд\w*"
    r"|возить|отвозить|забирать|выносить|мусор|pay|rent|pills?|medicine|report)(?!\w)",
    _F,
)
_APPOINTMENT: Final = re.compile(
    r"(?<!\w)(?:врач\w*|доктор\w*|стоматолог\w*|дантист\w*|зубн\w*|терапевт\w*|педиатр\w*"
    r"|поликлиник\w*|клиник\w*|массаж\w*|стрижк\w*|подстричься|парикмахер\w*|барбер\w*"
    r"|маникюр\w*|педикюр\w*|нотариус\w*|ветеринар\w*|юрист\w*|собрани\w*|родительск\w*"
    r"|шиномонтаж\w*|анализ[ыа]?|узи|мрт|dentist|doctor|appt|appointment|haircut|barber|vet|parents?\s+evening"
    r"|review|1:1|one[- ]on[- ]one|check-?up|interview)(?!\w)",
    _F,
)
_MEAL: Final = re.compile(
    r"(?<!\w)(?:обед\w*|ужин\w*|завтрак\w*|бранч\w*|lunch|dinner|brunch|breakfast"
    r"|coffee\s+with|кофе\s+с)(?!\w)",
    _F,
)
_SPORT: Final = re.compile(
    r"(?<!\w)(?:футбол\w*|хокке\w*|бассейн\w*|йог\w*|тренировк\w*|фитнес\w*|спортзал\w*"
    r"|танц\w*|пилатес\w*|football|soccer|hockey|yoga|gym|swim\w*|training|class(?:es)?)(?!\w)",
    _F,
)
_TOWARDS: Final = re.compile(r"(?:(?<!\w)(?:с|со|к|ко|with)\s+|w/\s*)\w", _F)
_PARTY: Final = re.compile(
    r"(?<!\w)(?:новосель\w*|свадьб\w*|д(?:ень|ня|не)\s+рождени\w*|др|днюх\w*|вечеринк\w*"
    r"|праздник\w*|выпускн\w*|юбиле\w*|корпоратив\w*|party|wedding|birthday)(?!\w)",
    _F,
)


def event_kind(chain: _Chain, kind: EventKind | None, recurring: bool) -> EventKind:
    """The kind of an event the rules filed with ``kind`` (None or OTHER: not known)."""
    if kind in (EventKind.REMINDER, EventKind.DEADLINE):
        return kind
    if chain.correction is not None and chain.correction.kind is not None:
        return chain.correction.kind  # the owner named it
    text = "\n".join(m.text for m in chain.messages)
    if _EXPIRES.search(text):
        return EventKind.DEADLINE
    if recurring and _CHORE.search(text):
        return EventKind.REMINDER
    if kind is EventKind.MEETING:
        return kind
    if _SPORT.search(text) or _PARTY.search(text):
        return EventKind.OTHER
    if _APPOINTMENT.search(text) or _MEAL.search(text):
        return EventKind.MEETING
    if chain.people and _TOWARDS.search(text):
        return EventKind.MEETING
    return EventKind.OTHER

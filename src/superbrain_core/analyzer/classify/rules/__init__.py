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
* A date without a time is a whole day: an event starts at 00:00 of it, a task
  is due at 23:59 of it (the corpus's convention, the same as the extraction
  layer's; there is no configurable default time of day).
* A lone message's date is read by :mod:`.extract.dates` (periods, loose times,
  typos, US dates, recurrences); a clarified chain's parts are merged message
  by message here, because a reply's date corrects the root's.
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

* past words ("вчера"): nothing here has a field for when something happened;
* English names are found only after words that introduce a person ("with",
  "sent", "call"): there is no English name dictionary here.

Periods ("на следующей неделе", "в конце месяца"), US numeric dates, ranges
and recurrences are read by :mod:`.extract.dates`, whose reading also decides
the type wherever it finds a date (the rules' own finder, :mod:`.when`, is
the fallback).
"""

from __future__ import annotations

from superbrain_core.analyzer.classify.rules.classifier import RulesClassifier
from superbrain_core.analyzer.classify.rules.deciding import _decide
from superbrain_core.analyzer.classify.rules.grammar import DEFAULT_LANGUAGES

__all__ = ["DEFAULT_LANGUAGES", "RulesClassifier", "_decide"]

"""The extraction layer: small readers of what people write, each with one job.

The rules classifier (:mod:`..rules`) decides what a message *is*; these modules
read the values inside it the way people write them, in Russian and English:

* :mod:`.numbers` - numbers in digits, shorthand ("3к", "5 тыс") and words
  ("полторы тысячи", "twenty"), on top of the ``number-parser`` package;
* :mod:`.money` - sums with their currency ("8 400 ₽", "fifteen bucks");
* :mod:`.people` - person names in any grammatical case, brought to the
  nominative ("с Петром Ивановичем" → "Пётр Иванович"), with ``pymorphy3``;
* :mod:`.transfers` - money sent to someone ("кинул Саше 1500");
* :mod:`.secrets` - passwords, PINs, card numbers and codes, and masking them.

Each module works on one cleaned text and returns spans (start, end) so the
caller can blank what it has read. None of them imports the classifier.
"""

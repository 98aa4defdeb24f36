"""Hypothesis strategies for what the capture paths are fed: Bot API updates and Telegram
Desktop export messages, each valid, mutated and hostile.

* **valid**: the shapes the shared samples (``../shared/telegram_samples``) and
  :func:`superbrain_core.demo.samples.make_update` show: every message content kind,
  service messages, replies, forwards (new and legacy), edits, albums, topics, and
  the non-message update kinds;
* **mutated**: a valid value with one to three changes at random spots: a field
  removed, a value of the wrong type, an integer past 64 bits or negative, a string
  with NUL or a lone surrogate, deep nesting, an empty object, the update kind renamed
  to one nobody knows, unknown fields added;
* **hostile**: values built to break a reader: no object at all, ``update_id`` of
  every wrong kind, ids past 64 bits where columns hold them, very long strings,
  thousands of keys, nesting hundreds of levels deep.

Files (``*_files``) are bytes as they would arrive on disk: every accepted shape
(object, array, ``getUpdates`` reply, JSON Lines), then cut short, corrupted, not
UTF-8, with ``NaN`` or a 5,000-digit number, and so on.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from superbrain_core.demo import samples
from superbrain_core.history.desktop.mapping import SERVICE_ACTIONS
from superbrain_core.history.desktop.peers import (
    BASIC_GROUP_TYPES,
    CHANNEL_TYPES,
    PRIVATE_TYPES,
)
from tests.conftest import SAMPLES_DIR

Json = Any
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Depth that is hostile but which every reader must take: far deeper than any
#: real update (Telegram's deepest are under ten levels), yet under Python's
#: default recursion limit. Nesting past the limit is its own test per path.
DEEP = 300
#: Nesting that exhausts Python's recursion limit in ``json`` (the known failure).
VERY_DEEP = 10_000

# -- scalars ---------------------------------------------------------------------------

#: Strings that have broken JSON and database code somewhere: NUL (Postgres text),
#: lone surrogates (UTF-8 cannot encode them), a BOM, bidi overrides, line
#: separators JavaScript treats as newlines, astral characters (two UTF-16 units).
NASTY_STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\ud83d",
    "\ude00y",
    "\ud83d\ude00",
    "\ufeff",
    "\u202e",
    "\u2028\u2029",
    "\U0001f4a9" * 3,
    "\\u0000",
    "null",
    "NaN",
    "${jndi:ldap://x}",
    "'; DROP TABLE raw_updates; --",
    "\r\n\t",
    "\uffff",
]

#: Any code point, surrogates included (hypothesis leaves those out by default).
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=30)
nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    any_text,
    st.builds(lambda a, b: a + b, st.sampled_from(NASTY_STRINGS), any_text),
)
long_text = st.integers(min_value=5_000, max_value=60_000).map(lambda n: "я\x00\ud800" * (n // 3))

#: Integers no 64-bit column holds, on both sides, and the edges just past them.
huge_ints = st.one_of(
    st.sampled_from([2**63, 2**64, 2**64 - 1, -(2**63) - 1, -(2**64), 10**30, -(10**30)]),
    st.integers(min_value=2**63, max_value=2**90),
    st.integers(min_value=-(2**90), max_value=-(2**63) - 1),
)
negative_ints = st.integers(min_value=INT64_MIN, max_value=-1)
edge_ints = st.sampled_from([0, -1, 1, INT64_MAX, INT64_MIN, 2**31, 2**32, 2**53 + 1])
wrong_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
    edge_ints,
)
hostile_scalars = st.one_of(wrong_scalars, huge_ints, negative_ints)


def make_update(update_id: int, kind: str = "message", **body: Any) -> dict[str, Any]:
    """:func:`superbrain_core.demo.samples.make_update`, copied: it shares the demo's
    module-level ``OWNER`` and ``OWNER_CHAT`` dicts, which a mutation must not touch."""
    return copy.deepcopy(samples.make_update(update_id, kind, **body))


def nested(depth: int, leaf: Json = "bottom", kind: str = "object") -> Json:
    """``{"k": {"k": … leaf …}}`` (or lists) built without recursion."""
    value = leaf
    for _ in range(depth):
        value = {"k": value} if kind == "object" else [value]
    return value


def nested_text(depth: int, leaf: str = '"bottom"', kind: str = "object") -> str:
    """The JSON text of :func:`nested`, written out (``json.dumps`` would recurse)."""
    if kind == "object":
        return '{"k":' * depth + leaf + "}" * depth
    return "[" * depth + leaf + "]" * depth


deep_values = st.builds(
    nested,
    st.integers(min_value=20, max_value=DEEP),
    hostile_scalars,
    st.sampled_from(["object", "array"]),
)

json_trees = st.recursive(
    hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
#: Values a field must not have: the wrong type, too big, negative, nasty text,
#: nested deep, or empty.
wrong_values = st.one_of(
    hostile_scalars,
    st.just({}),
    st.just([]),
    json_trees,
    deep_values,
)

# -- Bot API: valid --------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=2**40 - 1)  # Telegram's user ids
message_ids = st.integers(min_value=1, max_value=2**31 - 1)
update_ids = st.integers(min_value=0, max_value=2**31 - 1)
unix_times = st.integers(min_value=1_400_000_000, max_value=1_900_000_000)
names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
usernames = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,15}", fullmatch=True)
file_ids = st.from_regex(r"[A-Za-z0-9_-]{8,40}", fullmatch=True)


@st.composite
def users(draw: st.DrawFn, *, is_bot: bool | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": draw(ids),
        "is_bot": draw(st.booleans()) if is_bot is None else is_bot,
        "first_name": draw(names),
    }
    if draw(st.booleans()):
        user["last_name"] = draw(names)
    if draw(st.booleans()):
        user["username"] = draw(usernames)
    if draw(st.booleans()):
        user["language_code"] = draw(st.sampled_from(["ru", "en", "uk"]))
    return user


@st.composite
def chats(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    kind = kind or draw(st.sampled_from(["private", "group", "supergroup", "channel"]))
    if kind == "private":
        chat: dict[str, Any] = {"id": draw(ids), "first_name": draw(names)}
        if draw(st.booleans()):
            chat["username"] = draw(usernames)
    elif kind == "group":
        chat = {"id": -draw(st.integers(min_value=1, max_value=10**12 - 1)), "title": draw(names)}
    else:
        chat = {
            "id": -(10**12) - draw(st.integers(min_value=1, max_value=10**12 - 1)),
            "title": draw(names),
        }
        if draw(st.booleans()):
            chat["username"] = draw(usernames)
        if kind == "supergroup" and draw(st.booleans()):
            chat["is_forum"] = True
    chat["type"] = kind
    return chat


@st.composite
def files(draw: st.DrawFn, /, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"file_id": draw(file_ids), "file_unique_id": draw(file_ids)}
    if draw(st.booleans()):
        obj["file_size"] = draw(st.integers(min_value=0, max_value=2 * 10**9))
    for key, strategy in extra.items():
        if draw(st.booleans()):
            obj[key] = draw(strategy)
    return obj


sizes = st.integers(min_value=1, max_value=4096)
durations = st.integers(min_value=0, max_value=100_000)


def _entities(text: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    units = len(text.encode("utf-16-le")) // 2
    if units == 0:
        return st.just([])
    entity = st.builds(
        lambda kind, offset, length: {"type": kind, "offset": offset, "length": length},
        st.sampled_from(["bold", "italic", "url", "mention", "code", "bot_command"]),
        st.integers(min_value=0, max_value=units - 1),
        st.integers(min_value=1, max_value=units),
    )
    return st.lists(entity, max_size=3)


@st.composite
def contents(draw: st.DrawFn) -> dict[str, Any]:
    """The content fields of one message: text, a medium, structured content or a
    service field."""
    kind = draw(
        st.sampled_from(
            [
                "text",
                "photo",
                "document",
                "video",
                "audio",
                "voice",
                "video_note",
                "sticker",
                "animation",
                "location",
                "venue",
                "contact",
                "poll",
                "dice",
                "service",
            ]
        )
    )
    fields: dict[str, Any] = {}
    if kind == "text":
        text = draw(st.text(min_size=1, max_size=200))
        fields["text"] = text
        if draw(st.booleans()):
            fields["entities"] = draw(_entities(text))
        return fields
    if kind == "photo":
        photo = draw(st.lists(files(width=sizes, height=sizes), min_size=1, max_size=4))
        fields["photo"] = photo
    elif kind == "animation":
        animation = draw(files(width=sizes, height=sizes, duration=durations, file_name=names))
        fields["animation"] = animation
        fields["document"] = {
            k: animation[k] for k in ("file_id", "file_unique_id") if k in animation
        }
    elif kind in {"document", "video", "audio", "voice", "video_note", "sticker"}:
        extra: dict[str, st.SearchStrategy[Any]] = {  # type: ignore[assignment]
            "document": {"file_name": names, "mime_type": st.just("application/pdf")},
            "video": {"width": sizes, "height": sizes, "duration": durations},
            "audio": {"duration": durations, "title": names, "performer": names},
            "voice": {"duration": durations, "mime_type": st.just("audio/ogg")},
            "video_note": {"length": sizes, "duration": durations},
            "sticker": {"width": sizes, "height": sizes, "emoji": st.just("👍")},
        }[kind]
        fields[kind] = draw(files(**extra))
    elif kind in {"location", "venue"}:
        location = {
            "latitude": draw(st.floats(min_value=-90, max_value=90)),
            "longitude": draw(st.floats(min_value=-180, max_value=180)),
        }
        fields["location"] = location
        if kind == "venue":
            fields["venue"] = {"location": location, "title": draw(names), "address": draw(names)}
    elif kind == "contact":
        fields["contact"] = {"phone_number": "+79000000000", "first_name": draw(names)}
    elif kind == "poll":
        fields["poll"] = {
            "id": str(draw(ids)),
            "question": draw(names),
            "options": [{"text": t, "voter_count": 0} for t in draw(st.lists(names, max_size=4))],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        }
    elif kind == "dice":
        fields["dice"] = {"emoji": "🎲", "value": draw(st.integers(min_value=1, max_value=6))}
    else:
        service = draw(
            st.sampled_from(
                ["new_chat_members", "left_chat_member", "new_chat_title", "group_chat_created"]
            )
        )
        fields[service] = {
            "new_chat_members": [draw(users())],
            "left_chat_member": draw(users()),
            "new_chat_title": draw(names),
            "group_chat_created": True,
        }[service]
        return fields
    if draw(st.booleans()):
        caption = draw(st.text(min_size=1, max_size=100))
        fields["caption"] = caption
        if draw(st.booleans()):
            fields["caption_entities"] = draw(_entities(caption))
    return fields


@st.composite
def messages(draw: st.DrawFn, *, depth: int = 0) -> dict[str, Any]:
    """A Message object; ``reply_to_message`` and ``pinned_message`` one level deep."""
    chat = draw(chats())
    message: dict[str, Any] = {"message_id": draw(message_ids)}
    if chat["type"] == "channel":
        if draw(st.booleans()):
            message["sender_chat"] = chat
    else:
        message["from"] = draw(users())
        if chat["type"] != "private" and draw(st.booleans()):
            message["sender_chat"] = draw(chats("channel"))
    message["chat"] = chat
    message["date"] = draw(unix_times)
    message.update(draw(contents()))
    if depth == 0 and draw(st.integers(min_value=0, max_value=3)) == 0:
        replied = draw(messages(depth=depth + 1))
        replied["chat"] = chat
        message["reply_to_message"] = replied
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        message.update(draw(forwards()))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        message["edit_date"] = message["date"] + draw(st.integers(min_value=1, max_value=10**6))
    if "photo" in message and draw(st.booleans()):
        message["media_group_id"] = str(draw(ids))
    if chat.get("is_forum") and draw(st.booleans()):
        message["message_thread_id"] = draw(message_ids)
        message["is_topic_message"] = True
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        message["reply_markup"] = {
            "inline_keyboard": [[{"text": draw(names), "callback_data": draw(names)}]]
        }
    return message


@st.composite
def forwards(draw: st.DrawFn) -> dict[str, Any]:
    """A forward's fields: ``forward_origin`` (Bot API 7.0+) or the legacy ``forward_*``."""
    date = draw(unix_times)
    kind = draw(st.sampled_from(["user", "hidden_user", "chat", "channel", "legacy"]))
    if kind == "user":
        return {"forward_origin": {"type": "user", "date": date, "sender_user": draw(users())}}
    if kind == "hidden_user":
        origin = {"type": "hidden_user", "date": date, "sender_user_name": draw(names)}
        return {"forward_origin": origin}
    if kind == "chat":
        return {"forward_origin": {"type": "chat", "date": date, "sender_chat": draw(chats())}}
    if kind == "channel":
        origin = {
            "type": "channel",
            "date": date,
            "chat": draw(chats("channel")),
            "message_id": draw(message_ids),
        }
        return {"forward_origin": origin}
    if draw(st.booleans()):
        return {"forward_from": draw(users()), "forward_date": date}
    return {
        "forward_from_chat": draw(chats("channel")),
        "forward_from_message_id": draw(message_ids),
        "forward_date": date,
    }


@st.composite
def other_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A non-message update kind and its object."""
    kind = draw(
        st.sampled_from(
            [
                "callback_query",
                "inline_query",
                "chosen_inline_result",
                "poll_answer",
                "my_chat_member",
                "message_reaction",
                "pre_checkout_query",
            ]
        )
    )
    user = draw(users())
    if kind == "callback_query":
        body: dict[str, Any] = {
            "id": str(draw(ids)),
            "from": user,
            "chat_instance": str(draw(ids)),
            "data": draw(names),
        }
        if draw(st.booleans()):
            body["message"] = draw(messages(depth=1))
    elif kind == "inline_query":
        body = {"id": str(draw(ids)), "from": user, "query": draw(any_text), "offset": ""}
    elif kind == "chosen_inline_result":
        body = {"result_id": "1", "from": user, "query": draw(names)}
    elif kind == "poll_answer":
        body = {"poll_id": str(draw(ids)), "user": user, "option_ids": [0]}
    elif kind == "my_chat_member":
        member = {"user": user, "status": "member"}
        body = {
            "chat": draw(chats()),
            "from": user,
            "date": draw(unix_times),
            "old_chat_member": {**member, "status": "left"},
            "new_chat_member": member,
        }
    elif kind == "message_reaction":
        body = {
            "chat": draw(chats()),
            "message_id": draw(message_ids),
            "user": user,
            "date": draw(unix_times),
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        }
    else:
        body = {
            "id": str(draw(ids)),
            "from": user,
            "currency": "RUB",
            "total_amount": draw(st.integers(min_value=1, max_value=10**6)),
            "invoice_payload": draw(names),
        }
    return kind, body


def _load_samples() -> list[dict[str, Any]]:
    """Every update in the shared Bot API samples (``getUpdates`` replies unwrapped, a
    bare Message wrapped); empty when the samples are not beside the project."""
    found: list[dict[str, Any]] = []
    folder = SAMPLES_DIR / "bot_api"
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("result"), list):
            found.extend(u for u in data["result"] if isinstance(u, dict))
        elif isinstance(data, dict) and "update_id" in data:
            found.append(data)
        elif isinstance(data, dict) and "message_id" in data:
            found.append({"update_id": 1, "message": data})
    return found


SAMPLE_UPDATES = _load_samples()
MESSAGE_KINDS = ["message", "edited_message", "channel_post", "edited_channel_post"]


@st.composite
def built_updates(draw: st.DrawFn) -> dict[str, Any]:
    update_id = draw(update_ids)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        kind, body = draw(other_bodies())
        return {"update_id": update_id, kind: body}
    message = draw(messages())
    kind = draw(st.sampled_from(MESSAGE_KINDS))
    if kind.startswith("edited_") and "edit_date" not in message:
        message["edit_date"] = message["date"] + 60
    if kind.endswith("channel_post"):
        message["chat"] = draw(chats("channel"))
        message.pop("from", None)
    return {"update_id": update_id, kind: message}


@st.composite
def demo_updates(draw: st.DrawFn) -> dict[str, Any]:
    """Through :func:`make_update`, the helper the demo and the tests build with."""
    fields = draw(contents())
    if "text" not in fields:
        fields["text"] = draw(st.none() | st.text(max_size=50))
    return make_update(
        draw(update_ids),
        draw(st.sampled_from(MESSAGE_KINDS)),
        message_id=draw(message_ids),
        **fields,
    )


def _sample_updates() -> st.SearchStrategy[dict[str, Any]]:
    if not SAMPLE_UPDATES:
        return st.nothing()
    # By index: the samples' own repr would fill every failure report.
    return st.integers(0, len(SAMPLE_UPDATES) - 1).map(lambda i: copy.deepcopy(SAMPLE_UPDATES[i]))


#: Updates in the shapes Telegram sends.
valid_updates = st.one_of(built_updates(), demo_updates(), _sample_updates())

# -- mutation --------------------------------------------------------------------------


def paths_of(value: Json, limit: int = 400) -> list[tuple[Any, ...]]:
    """The paths (keys and indexes) of every container member in ``value``, breadth
    first and at most ``limit`` of them."""
    found: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Json]] = [((), value)]
    while queue and len(found) < limit:
        path, node = queue.pop(0)
        children: list[tuple[Any, Json]] = []
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        for key, child in children:
            found.append((*path, key))
            queue.append(((*path, key), child))
    return found


def _parent(value: Json, path: tuple[Any, ...]) -> Json:
    for key in path[:-1]:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Json], *, kind_key: bool = True) -> Json:
    """``base`` with one to three random changes (see the module docstring)."""
    value = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not isinstance(value, dict | list):
            break
        paths = paths_of(value)
        op = draw(st.sampled_from(["remove", "replace", "replace", "add", "rename", "empty"]))
        if op == "empty":
            value = draw(st.sampled_from([{}, [], {"update_id": 1}]))
            continue
        if op == "rename" and kind_key and isinstance(value, dict):
            keys = [k for k in value if k != "update_id"]
            if keys:
                old = draw(st.sampled_from(keys))
                new = draw(st.sampled_from(["future_update_kind", "", "\x00", "\ud800"]) | any_text)
                value[new] = value.pop(old)
            continue
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(value, path)
        key = path[-1]
        if op == "remove":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(wrong_values)
        elif isinstance(parent, dict):
            parent[draw(any_text)] = draw(wrong_values)
        else:
            parent.insert(key, draw(wrong_values))
    return value


mutated_updates = mutated(valid_updates)

# -- Bot API: hostile ------------------------------------------------------------------

#: Updates with a lone surrogate in a string that is also stored in a text column of its
#: own (not only inside the verbatim JSON): the kind, the album id, a file's fields.
SURROGATE_SPOTS: dict[str, dict[str, Any]] = {
    "update kind": {"update_id": 7, "\ud800": {"x": 1}},
    "media_group_id": make_update(7, message_id=1, text="x", media_group_id="\ud800"),
    "file fields": make_update(
        7,
        message_id=1,
        document={
            "file_id": "\ud800",
            "file_unique_id": "u\udfff",
            "file_name": "a\ud83d.pdf",
            "mime_type": "\ude00",
        },
    ),
}

#: Places in a message whose integers land in 64-bit columns (or decide the key).
INT_SPOTS: list[tuple[Any, ...]] = [
    ("update_id",),
    ("message", "chat", "id"),
    ("message", "message_id"),
    ("message", "from", "id"),
    ("message", "date"),
    ("message", "edit_date"),
    ("message", "message_thread_id"),
    ("message", "reply_to_message", "message_id"),
    ("message", "document", "file_size"),
    ("message", "photo", 0, "file_size"),
    ("message", "photo", 0, "width"),
    ("message", "voice", "duration"),
    ("message", "forward_origin", "chat", "id"),
    ("message", "forward_origin", "message_id"),
    ("message", "sender_chat", "id"),
]


def _spotted_message() -> dict[str, Any]:
    """A message with every spot of :data:`INT_SPOTS` present (and plausible)."""
    return make_update(
        7,
        message_id=11,
        text="x",
        edit_date=1_800_000_000,
        message_thread_id=3,
        reply_to_message={"message_id": 10, "chat": {"id": 100500, "type": "private"}, "date": 1},
        document={"file_id": "DOC", "file_unique_id": "DOCU", "file_size": 10},
        photo=[{"file_id": "P", "file_unique_id": "PU", "file_size": 5, "width": 1, "height": 1}],
        voice={"file_id": "V", "file_unique_id": "VU", "duration": 1},
        forward_origin={
            "type": "channel",
            "date": 1,
            "chat": {"id": -1001, "type": "channel"},
            "message_id": 5,
        },
        sender_chat={"id": -1002, "type": "channel", "title": "c"},
    )


@st.composite
def big_int_updates(draw: st.DrawFn) -> dict[str, Any]:
    """An update with integers past 64 bits (or negative) at spots that hold them."""
    update = _spotted_message()
    for spot in draw(st.lists(st.sampled_from(INT_SPOTS), min_size=1, max_size=3, unique=True)):
        parent = _parent(update, spot)
        parent[spot[-1]] = draw(huge_ints | negative_ints | huge_ints.map(str))
    return update


def _base_messages() -> dict[str, dict[str, Any]]:
    """One small update per way normalization reads a message: each content kind whose
    words are looked up (``text_of`` stops at the first it finds), files, forwards new and
    legacy, replies (to a poll, in a forum topic, to another chat), sender chats."""
    f = {"file_id": "F", "file_unique_id": "FU", "file_size": 5, "width": 2, "height": 3}
    chat = {"id": -1001, "type": "supergroup", "title": "g", "is_forum": True}
    poll = {"question": "q", "options": [{"text": "a"}, {"text": "b"}]}
    bodies: dict[str, dict[str, Any]] = {
        "text": {"text": "t", "entities": [{"type": "bold", "offset": 0, "length": 1}]},
        "caption": {"caption": "c", "caption_entities": [{"type": "bold"}], "photo": [f, f]},
        "poll": {"poll": poll},
        "venue": {"venue": {"title": "v", "address": "a", "location": {}}, "location": {}},
        "contact": {"contact": {"first_name": "f", "last_name": "l", "phone_number": "1"}},
        "game": {"game": {"title": "g", "description": "d"}},
        "invoice": {"invoice": {"title": "i", "description": "d"}},
        "files": {
            "animation": {**f, "duration": 1},
            "document": dict(f, file_name="n", mime_type="m"),
            "video_note": {**f, "length": 4},
        },
        "service": {"new_chat_members": [{"id": 1}], "pinned_message": {"message_id": 1}},
        "forward_origin": {
            "forward_origin": {
                "type": "channel",
                "date": 1,
                "chat": {"id": -1002, "title": "c"},
                "sender_user": {"id": 3, "first_name": "u"},
                "message_id": 4,
                "author_signature": "s",
                "sender_user_name": "n",
            }
        },
        "forward_legacy": {
            "forward_date": 1,
            "forward_from": {"id": 5, "first_name": "u", "type": "channel"},
            "forward_from_chat": {"id": -1003, "title": "c", "username": "u", "type": "channel"},
            "forward_from_message_id": 6,
            "forward_signature": "s",
            "forward_sender_name": "n",
        },
        "reply": {
            "reply_to_message": {
                "message_id": 7,
                "from": {"id": 8, "is_bot": True},
                "chat": chat,
                "poll": poll,
            }
        },
        "topic": {
            "is_topic_message": True,
            "message_thread_id": 9,
            "reply_to_message": {"message_id": 9, "forum_topic_created": {"name": "t"}},
            "text": "x",
        },
        "external": {"external_reply": {"origin": {}, "poll": poll}, "quote": {"text": "q"}},
        "sender_chat": {"sender_chat": {"id": -1004, "type": "channel"}, "media_group_id": "m"},
        # Legacy forwards read one field after another: each alone, so each is read.
        "forward_from": {
            "forward_date": 1,
            "forward_from": {"id": 5, "first_name": "u", "username": "n", "type": "channel"},
        },
        "forward_hidden": {"forward_date": 1, "forward_sender_name": "n"},
        # A channel post without ``from``: the sender is the chat.
        "channel": {"from": None, "chat": {"id": -1005, "type": "channel"}, "text": "p"},
    }
    bases = {}
    for name, body in bodies.items():
        message = {
            "message_id": 1,
            "from": {"id": 2, "is_bot": False, "first_name": "a"},
            "chat": dict(chat),
            "date": 1_700_000_000,
            "edit_date": 1_700_000_001,
            **body,
        }
        if message["from"] is None:
            del message["from"]
        bases[name] = {"update_id": 1, "edited_message": message}
    return bases


#: Updates with every field normalization reads; see :func:`field_mutations`.
BASE_UPDATES = _base_messages()
#: Values of the wrong type (or size) for any field.
WRONG_VALUES: list[Json] = [
    None,
    True,
    0,
    -1,
    1.5,
    2**64,
    -(2**64),
    "",
    "x\x00\ud800",
    "9" * 30,
    [],
    [None],
    [5],
    {},
    {"k": [1]},
    nested(50),
]


def field_mutations() -> list[tuple[str, tuple[Any, ...]]]:
    """``(base, path)`` of every field in :data:`BASE_UPDATES`: each is worth breaking."""
    return [(name, path) for name, base in BASE_UPDATES.items() for path in paths_of(base)]


def with_value(name: str, path: tuple[Any, ...], value: Json) -> dict[str, Any]:
    """A copy of ``BASE_UPDATES[name]`` with ``value`` at ``path``."""
    update = copy.deepcopy(BASE_UPDATES[name])
    _parent(update, path)[path[-1]] = copy.deepcopy(value)
    return update


#: One field of a base update given a wrong value.
field_mutated_updates = st.builds(
    lambda spot, value: with_value(spot[0], spot[1], value),
    st.sampled_from(field_mutations()),
    st.one_of(st.sampled_from(WRONG_VALUES), wrong_values),
)

hostile_updates = st.one_of(
    # not an object at all
    st.one_of(st.none(), st.booleans(), st.integers(), any_text, st.lists(json_trees, max_size=3)),
    # update_id of every wrong kind
    st.builds(
        lambda uid, body: {"update_id": uid, "message": body},
        st.one_of(
            st.booleans(),
            st.none(),
            st.floats(),
            st.just(1.0),
            huge_ints,
            st.integers().map(str),
            st.just([]),
            st.just({}),
        ),
        st.builds(lambda: make_update(1, message_id=1, text="x")["message"]),
    ),
    big_int_updates(),
    # a message that is not an object, or an empty one
    st.builds(
        lambda uid, kind, body: {"update_id": uid, kind: body},
        update_ids,
        st.sampled_from([*MESSAGE_KINDS, "business_message", "callback_query", "x"]),
        st.one_of(st.just({}), st.just([]), st.none(), nasty_text, huge_ints),
    ),
    # nasty and very long strings everywhere text goes
    st.builds(
        lambda uid, text, caption, name: make_update(
            uid, message_id=1, text=text, caption=caption, sender={"id": 5, "first_name": name}
        ),
        update_ids,
        st.one_of(nasty_text, long_text),
        nasty_text,
        nasty_text,
    ),
    # nasty keys, thousands of unknown fields, deep values
    st.builds(
        lambda uid, key, value: {"update_id": uid, key: value, **make_update(uid, message_id=1)},
        update_ids,
        st.sampled_from(["\x00", "\ud800", "", "update_id\x00", "message\ud800"]) | any_text,
        wrong_values,
    ),
    st.builds(
        lambda uid, n: {"update_id": uid, "message": {f"k{i}": i for i in range(n)}},
        update_ids,
        st.integers(min_value=1000, max_value=5000),
    ),
    st.builds(
        lambda uid, depth, kind: make_update(
            uid, message_id=1, text="deep", entities=[nested(depth, 1, kind)]
        ),
        update_ids,
        st.integers(min_value=50, max_value=DEEP),
        st.sampled_from(["object", "array"]),
    ),
    # a getUpdates reply or a bare message where an update is expected
    st.builds(lambda u: {"ok": True, "result": [u]}, built_updates()),
    messages(),
)

#: Everything a capture path may be handed.
any_updates = st.one_of(valid_updates, mutated_updates, field_mutated_updates, hostile_updates)

# -- update files ----------------------------------------------------------------------


def render(values: list[Json], shape: str, ascii_only: bool) -> bytes:
    """``values`` as an update file of ``shape``, in UTF-8; escaped (``ensure_ascii``)
    when they hold what UTF-8 cannot encode (lone surrogates)."""

    def one(value: Json, indent: int | None = None) -> str:
        return json.dumps(value, ensure_ascii=ascii_only, indent=indent)

    if shape == "object":
        text = one(values[0])
    elif shape == "array":
        text = "[" + ",\n".join(one(v) for v in values) + "]"
    elif shape == "envelope":
        text = '{"ok": true, "result": [' + ", ".join(one(v) for v in values) + "]}"
    elif shape == "lines":
        text = "\n".join(one(v) for v in values) + "\n"
    else:
        text = "\n".join(one(v, indent=1) for v in values)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return render(values, shape, ascii_only=True)


SHAPES = ["object", "array", "envelope", "lines", "concatenated"]


@st.composite
def update_files(draw: st.DrawFn, updates: st.SearchStrategy[Json]) -> tuple[bytes, list[Json]]:
    """``(file bytes, the values in it)`` in one of the shapes ``ingest`` accepts."""
    values = draw(st.lists(updates, min_size=1, max_size=4))
    shape = draw(st.sampled_from(SHAPES))
    if shape == "object":
        values = values[:1]
    return render(values, shape, draw(st.booleans())), values


def _corrupt(data: bytes, spot: int, how: str) -> bytes:
    spot = min(spot, len(data))
    if how == "truncate":
        return data[:spot]
    if how == "insert_garbage":
        return data[:spot] + b"}{,:]\x00" + data[spot:]
    if how == "invalid_utf8":
        return data[:spot] + b"\xff\xfe\xc3" + data[spot:]
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if how == "nan":
        return data.replace(b"1", b"NaN", 1)
    if how == "infinity":
        return data.replace(b"1", b"-Infinity", 1)
    if how == "huge_float":
        return data.replace(b"1", b"1e999", 1)
    if how == "long_number":
        return data.replace(b"1", b"1" * 5000, 1)
    raise AssertionError(how)


CORRUPTIONS = [
    "truncate",
    "insert_garbage",
    "invalid_utf8",
    "bom",
    "utf16",
    "nan",
    "infinity",
    "huge_float",
    "long_number",
]


@st.composite
def corrupted(
    draw: st.DrawFn, files_: st.SearchStrategy[tuple[bytes, list[Json]]], hows: list[str]
) -> tuple[bytes, list[Json]]:
    data, values = draw(files_)
    spot = draw(st.integers(min_value=0, max_value=max(len(data), 1)))
    return _corrupt(data, spot, draw(st.sampled_from(hows))), values


#: Texts that are not (only) updates: empty, whitespace, scalars, nesting as deep as
#: the generic suite goes.
odd_update_texts: st.SearchStrategy[tuple[bytes, list[Json]]] = st.one_of(
    st.sampled_from(
        [b"", b"   \n\t", b"null", b"[]", b"{}", b"[[]]", b'"x"', b"1", b"true", b"\x00"]
    ),
    st.builds(
        lambda depth, kind: nested_text(depth, '{"update_id": 1}', kind).encode(),
        st.integers(min_value=2, max_value=DEEP),
        st.sampled_from(["object", "array"]),
    ),
    st.binary(max_size=64),
).map(lambda data: (data, []))

any_update_files = st.one_of(
    update_files(any_updates),
    corrupted(update_files(valid_updates), CORRUPTIONS),
    odd_update_texts,
)

# -- Telegram Desktop exports ----------------------------------------------------------

EXPORT_CHAT_TYPES = sorted(PRIVATE_TYPES | BASIC_GROUP_TYPES | CHANNEL_TYPES)
iso_dates = st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0).isoformat()
)
peer_refs = st.one_of(
    ids.map(lambda i: f"user{i}"),
    st.integers(min_value=1, max_value=10**12 - 1).map(lambda i: f"channel{i}"),
    st.integers(min_value=1, max_value=10**12 - 1).map(lambda i: f"chat{i}"),
    ids,
)
#: Files the generated export folders hold (see :func:`export_folder_files`).
EXPORT_FILES = ["photos/p.jpg", "files/doc.pdf", "voice_messages/v.ogg", "stickers/s.webp"]
export_paths = st.one_of(
    st.sampled_from(EXPORT_FILES),
    st.sampled_from(
        [
            "(File not included. Change data exporting settings to download.)",
            "files/missing.bin",
            "../outside.txt",
            "/etc/hostname",
            "photos/../../outside.txt",
            "C:\\Windows\\win.ini",
            "a\x00b",
            "photos",
            "",
        ]
    ),
)


def _parts(draw: st.DrawFn) -> Json:
    if draw(st.booleans()):
        return draw(st.text(max_size=80))
    part = st.one_of(
        st.text(min_size=1, max_size=20),
        st.builds(
            lambda kind, text: {"type": kind, "text": text},
            st.sampled_from(["plain", "bold", "link", "mention", "phone", "code", "hashtag"]),
            st.text(max_size=20),
        ),
        st.builds(
            lambda text, href: {"type": "text_link", "text": text, "href": href},
            st.text(min_size=1, max_size=10),
            st.just("https://example.com/"),
        ),
        st.builds(
            lambda text, uid: {"type": "mention_name", "text": text, "user_id": uid},
            st.text(min_size=1, max_size=10),
            ids,
        ),
    )
    return draw(st.lists(part, max_size=5))


@st.composite
def export_messages(draw: st.DrawFn, message_id: int) -> dict[str, Any]:
    """One export message object, in the fields of one of the export eras."""
    era = draw(st.sampled_from(["2020", "2021", "2023"]))
    service = draw(st.integers(min_value=0, max_value=5)) == 0
    date = draw(iso_dates)
    msg: dict[str, Any] = {
        "id": message_id,
        "type": "service" if service else "message",
        "date": date,
    }
    if era == "2023":
        msg["date_unixtime"] = str(draw(unix_times))
    if draw(st.booleans()):
        msg["edited"] = draw(st.sampled_from(["1970-01-01T03:00:00", date]))
        if era == "2023":
            msg["edited_unixtime"] = str(draw(unix_times))
    who = draw(names)
    sender_id: Any = draw(ids) if era == "2020" else draw(peer_refs)
    if service:
        msg["actor"] = who
        msg["actor_id"] = sender_id
        msg["action"] = draw(st.sampled_from([*SERVICE_ACTIONS, "phone_call", "clear_history"]))
        if draw(st.booleans()):
            msg["members"] = draw(st.lists(names, max_size=3))
        if msg["action"] == "pin_message":
            msg["message_id"] = draw(message_ids)
    else:
        msg["from"] = who
        msg["from_id"] = sender_id
    text = _parts(draw)
    msg["text"] = text
    if era == "2023":
        msg["text_entities"] = (
            [{"type": "plain", "text": text}]
            if isinstance(text, str)
            else [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in text]
        )
    if not service:
        extra = draw(
            st.sampled_from(
                ["none", "reply", "forward", "photo", "file", "poll", "contact", "location"]
            )
        )
        if extra == "reply":
            msg["reply_to_message_id"] = draw(st.integers(min_value=1, max_value=message_id))
        elif extra == "forward":
            msg["forwarded_from"] = draw(names)
            if era == "2023" and draw(st.booleans()):
                msg["forwarded_from_id"] = draw(peer_refs)
        elif extra == "photo":
            msg["photo"] = draw(export_paths)
            msg["width"], msg["height"] = draw(sizes), draw(sizes)
        elif extra == "file":
            msg["file"] = draw(export_paths)
            media = draw(st.sampled_from([None, "voice_message", "sticker", "video_file"]))
            if media:
                msg["media_type"] = media
            if draw(st.booleans()):
                msg["file_size"] = draw(st.integers(min_value=0, max_value=10**9))
            if draw(st.booleans()):
                msg["mime_type"] = "application/octet-stream"
            if media == "voice_message":
                msg["duration_seconds"] = draw(durations)
        elif extra == "poll":
            answers = [{"text": t, "voters": 0, "chosen": False} for t in draw(st.lists(names))]
            msg["poll"] = {"question": draw(names), "closed": False, "answers": answers}
        elif extra == "contact":
            msg["contact_information"] = {"first_name": draw(names), "phone_number": "+7"}
        elif extra == "location":
            msg["location_information"] = {"latitude": 55.75, "longitude": 37.62}
            if draw(st.booleans()):
                msg["place_name"] = draw(names)
    return msg


@st.composite
def export_chats(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EXPORT_CHAT_TYPES))
    chat: dict[str, Any] = {
        "name": draw(st.none() | names),
        "type": kind,
        "id": draw(st.integers(min_value=1, max_value=10**12 - 1)),
    }
    count = draw(st.integers(min_value=0, max_value=6))
    chat["messages"] = [draw(export_messages(i)) for i in range(1, count + 1)]
    return chat


@st.composite
def exports(draw: st.DrawFn) -> dict[str, Any]:
    """A whole ``result.json``: one chat, or an account's chats and left chats."""
    if draw(st.booleans()):
        chat = draw(export_chats())
        chat["messages"] = chat["messages"] or [draw(export_messages(1))]
        return chat
    listed = draw(st.lists(export_chats(), min_size=1, max_size=3, unique_by=lambda c: c["id"]))
    left = draw(st.lists(export_chats(), max_size=2, unique_by=lambda c: c["id"]))
    left = [c for c in left if c["id"] not in {x["id"] for x in listed}]
    doc: dict[str, Any] = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": draw(ids), "first_name": draw(names)},
        "chats": {"about": "This page lists all chats from this export.", "list": listed},
    }
    if left:
        doc["left_chats"] = {"about": "Chats you left.", "list": left}
    return doc


@st.composite
def mutated_exports(draw: st.DrawFn) -> dict[str, Any]:
    """An export whose messages (and sometimes chats) have random changes."""
    doc = draw(exports())
    chats_ = [doc] if "messages" in doc else doc["chats"]["list"]
    for chat in chats_:
        msgs = chat["messages"]
        for i, message in enumerate(msgs):
            if draw(st.booleans()):
                msgs[i] = draw(mutated(st.just(message), kind_key=False))
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        doc = draw(mutated(st.just(doc), kind_key=False))
    return doc


@st.composite
def hostile_exports(draw: st.DrawFn) -> dict[str, Any]:
    """An export with values built to break the reader inside one message: integers
    past 64 bits, nasty strings and paths, deep values (nesting in the bytes is
    :data:`hostile_export_files`)."""
    doc = draw(exports())
    chats_ = [doc] if "messages" in doc else doc["chats"]["list"]
    chat = chats_[0]
    if not chat["messages"]:
        chat["messages"].append(draw(export_messages(1)))
    target = chat["messages"][draw(st.integers(0, len(chat["messages"]) - 1))]
    field = draw(
        st.sampled_from(
            [
                "id",
                "from_id",
                "actor_id",
                "date_unixtime",
                "edited_unixtime",
                "reply_to_message_id",
                "forwarded_from_id",
                "file_size",
                "width",
                "duration_seconds",
                "text",
                "file",
                "photo",
                "thumbnail",
                "date",
                "media_type",
                "poll",
                "text_entities",
            ]
        )
    )
    target[field] = draw(
        st.one_of(
            huge_ints.map(str),  # as text: a 64-bit parser refuses the number itself
            negative_ints,
            nasty_text,
            long_text,
            export_paths,
            st.builds(lambda n: [{"type": "bold", "text": "x" * n}], st.integers(0, 5000)),
            huge_ints,
            deep_values,
            st.just({}),
            st.just([]),
        )
    )
    return doc


def export_bytes(doc: Json, ascii_only: bool) -> bytes:
    """``doc`` as UTF-8 JSON; escaped when it holds what UTF-8 cannot encode."""
    try:
        return json.dumps(doc, ensure_ascii=ascii_only, indent=1).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(doc, indent=1).encode("utf-8")


@st.composite
def export_files(draw: st.DrawFn, docs: st.SearchStrategy[Json]) -> tuple[bytes, Json]:
    doc = draw(docs)
    return export_bytes(doc, draw(st.booleans())), doc


def _export_deep(depth: int, where: str) -> bytes:
    chat = '{"name": "n", "type": "personal_chat", "id": 5, "messages": ['
    first = '{"id": 1, "type": "message", "date": "2021-01-01T00:00:00", "text": "a"}'
    if where == "message":
        body = f'{first}, {{"id": 2, "deep": {nested_text(depth, "1")}}}'
        return (chat + body + "]}").encode()
    return ('{"about": ' + nested_text(depth, "1", "array") + ', "chats": {"list": []}}').encode()


hostile_export_texts = st.one_of(
    st.sampled_from([b"", b"{}", b"[]", b"null", b'{"chats": 5}', b'{"chats": {"list": {}}}']),
    st.builds(
        _export_deep,
        st.integers(min_value=2, max_value=3000),
        st.sampled_from(["message", "outside"]),
    ),
    st.binary(max_size=64),
).map(lambda data: (data, None))

any_export_files = st.one_of(
    export_files(exports()),
    export_files(mutated_exports()),
    export_files(hostile_exports()),
    corrupted(export_files(exports()), CORRUPTIONS),
    hostile_export_texts,
)


def export_folder_files(root: Path) -> None:
    """The media :data:`EXPORT_FILES` names, and a file just outside the folder."""
    for relative in EXPORT_FILES:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(relative.encode() * 3)
    (root.parent / "outside.txt").write_text("not part of the export")

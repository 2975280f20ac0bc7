"""Sending messages: one send, or the sends that came together, in one transaction.

A commit is most of what a send costs the database (a WAL flush on PostgreSQL, the
write lock taken and given back on SQLite), so the sends that reach the database
thread together (chat/realtime/dbcalls.py) share one: group commit. Each send still
takes its own room's next seq, is checked on its own (membership, a DM block, a
retried client_msg_id) and gets its own answer: it runs under a savepoint of the
shared transaction, so one that fails or is refused rolls back only itself (its seq
given back) and never its neighbours. Its events are published after the shared
commit, in the order they were stored: each room's in seq order.

The shared transaction takes its rooms' locks in room id order (a room's sends in the
order they came), so two groups touching the same rooms wait for each other and never
deadlock.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import groupby

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..access import MAX_ID, may_post, room_for_poster
from ..content import richtext
from ..errors import ChatError, RoomNotFound
from ..models import Message
from ..protocol import frames
from ..protocol.commands import MAX_ATTACHMENTS, parse_client_msg_id
from ..queries import mentioned_members, messages_with_authors, with_extras
from ..realtime.fanout import RoomFrame, publish_to_rooms_on_commit
from . import flood, sql, sql_group, threads
from .cleaning import clean_body
from .rooms import admit_direct_peer
from .uploads import claim_attachments

Sent = tuple[Message, bool]  # the message, and whether this send created it


@dataclass(frozen=True)
class SendRequest:
    """One send as its sender asked for it."""

    user: AbstractBaseUser
    room_id: int
    body: str
    client_msg_id: str
    reply_to: int | None = None
    attachments: tuple[int, ...] = ()
    thread_root: int | None = None
    also_in_room: bool = False
    via: str | None = None  # the name a webhook's payload gave its sender, already cleaned
    language: str | None = None  # what its refusal is said in (a socket's); None: the current
    # The socket it came from (its presence_id): that socket has the message in its ack,
    # so the room's event skips it. None: every socket of the room hears the event.
    origin: str | None = None


@dataclass
class _Prepared:
    """A send that passed the checks made before the transaction: what it will store."""

    request: SendRequest
    client_msg_id: str
    body: str
    html: str
    mentioned: dict[str, int]
    parent: Message | None
    root: Message | None


@dataclass
class _Refused:
    """Inside the transaction the send stored nothing (its savepoint rolled back): why,
    as the statements read it; told after the commit."""

    seq: int | None
    role: str | None
    earlier_id: int | None
    blocked: bool


class _Raced:
    """The unique client_msg_id refused the INSERT: a concurrent retry stored it first."""

    def __init__(self, error: IntegrityError) -> None:
        self.error = error


def send_message(
    user: AbstractBaseUser,
    room_id: int,
    body: str,
    client_msg_id: str,
    *,
    reply_to: int | None = None,
    attachments: tuple[int, ...] = (),
    thread_root: int | None = None,
    also_in_room: bool = False,
    via: str | None = None,
) -> Sent:
    """Store a message under the next seq of its room; (message, created).

    A retried client_msg_id returns the stored message and creates nothing (its
    attachments stay on the first one). The seq is taken under a row lock on the
    room, so commit order is seq order. With `thread_root` the message is a reply in
    that message's thread (chat.services.threads), shown in the room's timeline too
    only if `also_in_room`. `via` is the name a webhook's payload gave its sender
    (chat.services.webhooks), already cleaned.
    """
    request = SendRequest(
        user, room_id, body, client_msg_id, reply_to, attachments, thread_root, also_in_room, via
    )
    [outcome] = send_messages([request])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def send_messages(requests: Sequence[SendRequest]) -> list[Sent | Exception]:
    """Store the sends in one transaction; each one's outcome in the order given: its
    (message, created), or the exception its sender is answered with."""
    outcomes: list[Sent | Exception | None] = [None] * len(requests)
    prepared: list[tuple[int, _Prepared]] = []
    for i, request in _in_own_language(enumerate(requests), lambda pair: pair[1].language):
        outcome = _attempt(_prepare, request)
        if isinstance(outcome, _Prepared):
            prepared.append((i, outcome))
        else:
            outcomes[i] = outcome
    stored = _store_together(prepared)
    answering = zip(prepared, stored, strict=True)
    for (i, item), result in _in_own_language(answering, lambda pair: pair[0][1].request.language):
        outcomes[i] = _attempt(_answer, item, result)
    return outcomes  # type: ignore[return-value]


def _speaking(request: SendRequest):
    return translation.override(request.language) if request.language else nullcontext()


def _in_own_language[T](items: Iterable[T], language_of: Callable[[T], str | None]) -> Iterator[T]:
    """Each item with its send's language active, switched once for a run of sends in one
    language rather than once a send: an override sets asgiref's context-local twice,
    which cost a grouped send a tenth of its database thread's CPU (docs/performance.md)."""
    for language, run in groupby(items, key=language_of):
        with translation.override(language) if language else nullcontext():
            yield from run


def _attempt(step, *args) -> object:
    """The step's result, or the exception it raised (a ChatError naming the send)."""
    try:
        return step(*args)
    except ChatError as exc:
        request = args[0].request if isinstance(args[0], _Prepared) else args[0]
        exc.client_msg_id = exc.client_msg_id or _parsed_id(request.client_msg_id)
        return exc
    except Exception as exc:
        return exc


def _parsed_id(client_msg_id: str) -> str | None:
    try:
        return parse_client_msg_id(client_msg_id)
    except ChatError:
        return None


def _prepare(request: SendRequest) -> _Prepared | Sent:
    """The checks and work that need no lock: the body, flood control, the reply's
    parent and thread root, mentions and the HTML. A retry past the flood limit is
    answered here with its stored message."""
    user, room_id = request.user, request.room_id
    client_msg_id = parse_client_msg_id(request.client_msg_id)
    if len(request.attachments) > MAX_ATTACHMENTS:
        raise ChatError(
            "bad_request",
            _("A message carries at most %(limit)s files.") % {"limit": MAX_ATTACHMENTS},
        )
    body = clean_body(request.body, may_be_empty=bool(request.attachments))
    try:
        flood.check_send_rate(user.pk)
    except ChatError:
        # A retry is answered even past the limit: it stores nothing.
        existing = _existing_send(user, room_id, client_msg_id)
        if existing is None:
            raise
        room_for_poster(user, room_id)
        return existing, False
    if not 0 < room_id <= MAX_ID:
        raise RoomNotFound
    parent = _reply_parent(room_id, request.reply_to)
    root = threads.thread_root_for_send(room_id, request.thread_root)
    mentioned = mentioned_members(room_id, body)
    html = richtext.render_html(body, set(mentioned))
    return _Prepared(request, client_msg_id, body, html, mentioned, parent, root)


def _store_together(
    prepared: list[tuple[int, _Prepared]],
) -> list[Message | _Refused | _Raced | Exception]:
    """One transaction for all of them: the plain sends' rooms with one statement of
    each kind for the group (`_store_grouped`), the others' one send at a time. If a
    concurrent retry took a client_msg_id meanwhile (the group's INSERT skipped a row,
    leaving its seq taken), the transaction rolls back and goes again a send at a time."""
    if not prepared:
        return []
    try:
        return _store_all(prepared, grouped=True)
    except _Conflicted:
        return _store_all(prepared, grouped=False)


class _Conflicted(Exception):
    """The group's INSERT found a client_msg_id stored since its SELECT."""


def _store_all(
    prepared: list[tuple[int, _Prepared]], *, grouped: bool
) -> list[Message | _Refused | _Raced | Exception]:
    """Each send not stored with its group under its own savepoint (a lone send needs
    none), rooms locked in id order."""
    results: list[Message | _Refused | _Raced | Exception | None] = [None] * len(prepared)
    order = sorted(range(len(prepared)), key=lambda k: prepared[k][1].request.room_id)
    alone = len(prepared) == 1
    try:
        with transaction.atomic():
            for k in _store_grouped(prepared, order, results) if grouped else order:
                item = prepared[k][1]
                try:
                    with _speaking(item.request):
                        results[k] = _store_plain(item) if _is_plain(item) else None
                        if results[k] is None:
                            with transaction.atomic(savepoint=not alone):
                                results[k] = _store(item)
                except IntegrityError as exc:
                    results[k] = _Raced(exc)
                except Exception as exc:
                    results[k] = exc
            doomed = transaction.get_rollback()
    except _Conflicted:
        raise
    except Exception as exc:  # the shared transaction failed to begin or to commit
        return [exc if not isinstance(r, Exception) else r for r in results]  # type: ignore[misc]
    if doomed:  # rolled back whole (a lone send's failure): nothing of it was stored
        lost = DatabaseError("the transaction was rolled back")
        return [lost if isinstance(r, Message) else r for r in results]  # type: ignore[misc]
    return results  # type: ignore[return-value]


def _store_grouped(
    prepared: list[tuple[int, _Prepared]], order: list[int], results: list
) -> list[int]:
    """Store the sends of the rooms whose sends are all plain with one UPDATE (every
    room's seqs; the other rooms of the group are locked in it too, so all its locks
    are taken at once, in id order), one SELECT (every sender's state) and one INSERT;
    each refusal's seq is given back by one more UPDATE. Fills in their results; the
    indexes (in `order`) of the sends left to store one at a time."""
    by_room: dict[int, list[int]] = {}
    for k in order:
        by_room.setdefault(prepared[k][1].request.room_id, []).append(k)
    grouped = {
        room: ks for room, ks in by_room.items() if all(_is_plain(prepared[k][1]) for k in ks)
    }
    if not grouped:
        return order
    now = timezone.now()
    try:
        with transaction.atomic(savepoint=False):
            counts = {room: len(ks) for room, ks in grouped.items()}
            found = sql_group.take_seqs(counts, [r for r in by_room if r not in grouped], now)
            # A direct room's first message admits its peer: it goes one at a time.
            first = [r for r in grouped if r in found and found[r][1] and found[r][0] == counts[r]]
            given_back = {room: counts[room] for room in first}
            checked = [
                (k, room)
                for room, ks in grouped.items()
                if room in found and room not in given_back
                for k in ks
            ]
            _refuse_missing(grouped, found, results)
            stored = _check_and_insert(prepared, checked, found, counts, given_back, now, results)
            if given_back:
                sql_group.give_back_seqs(given_back)
            if stored:
                publish_to_rooms_on_commit([_event(m, item.request) for m, item in stored])
    except _Conflicted:
        raise
    except Exception as exc:  # the shared transaction rolls back whole
        for k in order:
            results[k] = exc
        return []
    done = set(grouped).difference(first)
    return [k for k in order if prepared[k][1].request.room_id not in done]


def _refuse_missing(grouped: dict[int, list[int]], found: dict, results: list) -> None:
    for room, ks in grouped.items():
        if room not in found:
            for k in ks:
                results[k] = _Refused(None, None, None, False)


def _check_and_insert(
    prepared: list[tuple[int, _Prepared]],
    checked: list[tuple[int, int]],
    found: dict[int, tuple[int, str | None]],
    counts: dict[int, int],
    given_back: dict[int, int],
    now,
    results: list,
) -> list[tuple[Message, _Prepared]]:
    """Each send checked (by the group's SELECT, and against the group's earlier sends'
    client_msg_ids), the room's seqs handed out to those that pass, in the order they
    came, and those stored by the group's INSERT, each with its send; refusals counted
    in `given_back`."""
    items = [prepared[k][1] for k, _room in checked]
    asked = [
        (room, item.request.user.pk, item.client_msg_id)
        for (_k, room), item in zip(checked, items, strict=True)
    ]
    states = sql_group.sender_states(asked) if asked else []
    next_seq = {room: found[room][0] - counts[room] for room in counts if room in found}
    taken: set[tuple[int, str]] = set()
    passing: list[tuple[int, _Prepared]] = []
    rows = []
    for (k, room), item, (role, earlier_id, blocked) in zip(checked, items, states, strict=True):
        key = (item.request.user.pk, item.client_msg_id)
        if earlier_id is None and key in taken:
            earlier_id = 0  # stored by this group: answered with it after the commit
        if not may_post(role) or earlier_id is not None or blocked:
            results[k] = _Refused(found[room][0], role, earlier_id, blocked)
            given_back[room] = given_back.get(room, 0) + 1
            continue
        taken.add(key)
        next_seq[room] += 1
        rows.append(_values(item, next_seq[room], now))
        passing.append((k, item))
    messages = sql_group.insert_messages(rows) if rows else []
    if any(message is None for message in messages):
        raise _Conflicted
    for (k, item), message in zip(passing, messages, strict=True):
        _complete(message, item)
        results[k] = message
    return [(message, item) for message, (_k, item) in zip(messages, passing, strict=True)]


def _is_plain(item: _Prepared) -> bool:
    """Text (and a reply) only: nothing but its own three statements can refuse it."""
    return not item.request.attachments and item.root is None and not item.mentioned


def _store_plain(item: _Prepared) -> Message | _Refused | _Raced | None:
    """A plain send without a savepoint: the statements that could refuse it write
    nothing, and a refusal after its seq was taken gives the seq back. (A savepoint
    costs two more statements a send, each a round trip to PostgreSQL.) None: a direct
    room's first message, which goes the savepoint's way (`_store`).

    Any error makes the shared transaction roll back whole (`atomic` without a savepoint
    marks it), so no neighbour is told its send was stored when it was not."""
    user, room_id = item.request.user, item.request.room_id
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        seq, direct = sql.take_next_seq(room_id, now) or (None, None)
        if seq is None:
            return _Refused(None, None, None, False)
        role, earlier_id, blocked = sql.sender_state(room_id, user.pk, item.client_msg_id)
        if (direct and seq == 1) or not may_post(role) or earlier_id is not None or blocked:
            sql.give_back_seq(room_id)
            return None if direct and seq == 1 else _Refused(seq, role, earlier_id, blocked)
        message = sql.new_row(Message, _values(item, seq, now), if_new=True)
        if message is None:  # a concurrent retry of this client_msg_id committed first
            sql.give_back_seq(room_id)
            return _Raced(IntegrityError("the client_msg_id was stored meanwhile"))
        _complete(message, item)
        publish_to_rooms_on_commit([_event(message, item.request)])
    return message


def _values(item: _Prepared, seq: int, now) -> dict:
    request, parent, root = item.request, item.parent, item.root
    return {
        "room_id": request.room_id,
        "seq": seq,
        "author_id": request.user.pk,
        "body": item.body,
        "html": item.html,
        "created_at": now,
        "client_msg_id": item.client_msg_id,
        "reply_to_id": parent.pk if parent else None,
        "thread_root_id": root.pk if root else None,
        "also_in_room": bool(root) and request.also_in_room,
        "via": request.via,
    }


_AUTHOR, _REPLY_TO = Message._meta.get_field("author"), Message._meta.get_field("reply_to")


def _complete(message: Message, item: _Prepared) -> None:
    """What a new message's frame carries beside its row. The row holds author_id and
    reply_to_id already: the objects go straight to the instance's cache (assigning
    them through the fields' descriptors checked them again, at 2 µs a send)."""
    _AUTHOR.set_cached_value(message, item.request.user)
    _REPLY_TO.set_cached_value(message, item.parent)
    message.mention_ids = sorted(item.mentioned.values())
    message.reaction_summary = []
    message.attachment_list = []


def _event(message: Message, request: SendRequest) -> RoomFrame:
    """The new message's event, skipping the socket it came from. The message is encoded
    once and kept as `encoded`, which its ack (frames.ack_text) takes: so only for a
    message complete when published (nothing after changes it: a thread root's count is
    another message)."""
    message.encoded = frames.message_json(message)
    return (message.room_id, frames.message_created_text(message.encoded), request.origin)


def _store(item: _Prepared) -> Message | _Refused:
    """Inside the transaction, under the send's savepoint: the three statements
    (chat/services/sql.py), and what goes with a new message."""
    request, user, room_id = item.request, item.request.user, item.request.room_id
    now = timezone.now()
    seq, direct = sql.take_next_seq(room_id, now) or (None, None)
    role, earlier_id, blocked = sql.sender_state(room_id, user.pk, item.client_msg_id)
    if direct and seq == 1 and may_post(role) and earlier_id is None and not blocked:
        blocked = admit_direct_peer(room_id, direct, user)
    if seq is None or not may_post(role) or earlier_id is not None or blocked:
        transaction.set_rollback(True)  # the seq goes back; nothing is stored
        return _Refused(seq, role, earlier_id, blocked)
    root = item.root
    message = sql.new_row(Message, _values(item, seq, now))
    _complete(message, item)
    if item.mentioned:
        Mention = Message.mentions.through
        Mention.objects.bulk_create(
            Mention(message_id=message.pk, user_id=user_id) for user_id in item.mentioned.values()
        )
    if request.attachments:
        message.attachment_list = claim_attachments(user, room_id, message.pk, request.attachments)
    publish_to_rooms_on_commit([_event(message, request)])
    if root is not None:
        threads.note_reply(root.pk, message)
    return message


def _answer(item: _Prepared, result: Message | _Refused | _Raced | Exception | Sent) -> Sent:
    """After the commit: the sender's answer (the stored message, or why not)."""
    user, room_id = item.request.user, item.request.room_id
    if isinstance(result, Message):
        return result, True
    if isinstance(result, _Raced):
        # A concurrent retry of the same client_msg_id committed first (the unique
        # constraint decides; this send's savepoint, seq included, rolled back).
        existing = _existing_send(user, room_id, item.client_msg_id)
        if existing is None:
            raise result.error
        return existing, False
    if isinstance(result, Exception):
        raise result
    if result.seq is None or not may_post(result.role):
        room_for_poster(user, room_id)  # raises what the caller may know
        raise ChatError("unavailable", _("Your membership changed; try again."))
    if result.blocked and result.earlier_id is None:
        raise ChatError("forbidden", _("This person does not take your messages."))
    return _existing_send(user, room_id, item.client_msg_id), False


def _existing_send(user: AbstractBaseUser, room_id: int, client_msg_id: str) -> Message | None:
    message = messages_with_authors().filter(author=user, client_msg_id=client_msg_id).first()
    if message is not None and message.room_id != room_id:
        raise ChatError(
            "bad_request",
            "This client_msg_id was already used in another room.",
            client_msg_id=client_msg_id,
        )
    return with_extras([message])[0] if message is not None else None


def _reply_parent(room_id: int, reply_to: int | None) -> Message | None:
    if reply_to is None:
        return None
    parent = None
    if 0 < reply_to <= MAX_ID:
        parent = (
            Message.objects.select_related("author")
            .filter(pk=reply_to, room_id=room_id, deleted_at__isnull=True)
            .first()
        )
    if parent is None:
        raise ChatError("bad_request", "`reply_to` must be a message in this room.")
    return parent

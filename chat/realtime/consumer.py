"""One WebSocket per browser tab: authenticate, dispatch frames to services, forward events."""

import asyncio
import contextlib
import functools
import logging
import uuid

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import translation
from django.utils.translation import gettext as _

from .. import access, queries, services
from ..errors import ChatError
from ..protocol import frames
from ..protocol.commands import (
    Delete,
    Edit,
    Fetch,
    Pin,
    Ping,
    Presence,
    React,
    Read,
    Send,
    Typing,
    parse_frame,
)
from . import fanout
from .dbcalls import batched, batched_together
from .framewriter import DirectWriter, Event
from .hub import HelloState, Hub
from .shared import reads

logger = logging.getLogger(__name__)

# What a socket may have waiting for a slow client before it is closed (1013):
# ASGI sends pending, or bytes in the transport's buffer. The client reconnects
# and catches up from the database.
MAX_BACKLOG = 256
MAX_BUFFERED_BYTES = 512 * 1024
TRY_AGAIN_LATER = 1013
SESSION_ENDED = 4401  # the client logs in again rather than reconnect
INTERNAL_ERROR = 1011
POLICY_VIOLATION = 1008
# Frames a socket may send ahead of their answers; a real tab has a few at most.
MAX_PENDING_FRAMES = 32
# How long a closing socket waits for the frame it is answering (a send's commit).
FINISH_FRAME_SECONDS = 5.0
NOTHING_REVOKED: frozenset[int] = frozenset()


def _hello_reads(user) -> HelloState:
    return HelloState(user, queries.rooms_for_user(user), queries.presence_peers(user.pk))


async def _hello_state(user) -> HelloState:
    """The user's rooms and whose presence they follow, read once for the user's tabs
    waiting together (chat.realtime.shared): the answer is shared, never changed."""
    return await reads().read(("hello", user.pk), _hello_reads, user)


def _may_read(user, room_id: int) -> None:
    access.room_for_reader(user, room_id)


async def _member_room_ids(user) -> set[int]:
    return set(await reads().read(("room ids", user.pk), queries.member_room_ids, user))


@batched_together
def _send(calls: list[tuple[str | None, tuple]]) -> list:
    """The sends that reach the database thread together, stored in one transaction."""
    requests = [
        services.SendRequest(
            user,
            command.room,
            command.body,
            command.client_msg_id,
            reply_to=command.reply_to,
            attachments=command.attachments,
            thread_root=command.thread_root,
            also_in_room=command.also_in_room,
            language=language,
            origin=socket_id,
        )
        for language, (user, command, socket_id) in calls
    ]
    return [
        outcome
        if isinstance(outcome, Exception)
        else frames.ack_text(command.client_msg_id, outcome[0], command.request_id)
        for outcome, (_language, (_user, command, _socket_id)) in zip(
            services.send_messages(requests), calls, strict=True
        )
    ]


@batched
def _edit(user, command: Edit) -> dict:
    return frames.message_updated(services.edit_message(user, command.message, command.body))


@batched
def _delete(user, command: Delete) -> dict:
    return frames.message_deleted(services.delete_message(user, command.message))


@batched
def _react(user, command: React) -> dict:
    return services.react(user, command.message, command.emoji, on=command.on)


@batched
def _pin(user, command: Pin) -> dict:
    return services.pin_message(user, command.room, command.message, on=command.on)


@batched
def _typing(user, command: Typing) -> None:
    services.typing(user, command.room)


async def _fetch(user, command: Fetch) -> dict:
    """Each caller's budget spent for it, its access checked once for its user's tabs
    asking together; the page itself read once for all the tabs asking for the same one
    together (a storm's catch-ups: chat.realtime.shared)."""
    cursor = (command.room, command.after, command.before, command.changed_after, command.limit)
    page = await reads().read(
        ("page", *cursor),
        functools.partial(
            queries.room_page,
            command.room,
            after=command.after,
            before=command.before,
            changed_after=command.changed_after,
            limit=command.limit,
        ),
        guard=functools.partial(queries.spend_page, user),
        check=(("reader", user.pk), functools.partial(_may_read, user, command.room)),
    )
    return frames.messages(
        page, after=command.after, before=command.before, changed_after=command.changed_after
    )


@batched
def _read(user, command: Read) -> None:
    services.mark_read(user, command.room, command.seq)


class ChatConsumer(AsyncWebsocketConsumer):
    """The server end of one tab's socket. It holds no rules: services and access do.

    It has no channel-layer channel of its own: the process's hub receives
    events once and hands them to `deliver`.
    """

    channel_layer_alias = None
    groups = ()  # none: no list of its own per socket
    overloaded_total = 0

    async def __call__(self, scope, receive, send):
        """Channels' consumer loop without its task and `asyncio.wait` per frame: with no
        channel layer there is one source of messages, awaited in place."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message):
        """Channels' dispatch without its thread hop per frame to close old database
        connections: every database call here runs in database_sync_to_async, which
        already does that."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.user = self.scope.get("user")
        self.user_id = getattr(self.user, "pk", None)
        # Error details are for people: in the language the tab's pages are in. Active
        # in this socket's task from here on, so in each frame's worker, whose context
        # is a copy of it (no override per frame).
        self.language = self.scope["language"]  # read by the entry from the handshake
        translation.activate(self.language)
        self.room_ids: set[int] = set()
        self.hub: Hub | None = None
        # Events held until `hello` is out, and rooms revoked while connecting.
        self._held: list[Event] | None = []
        self._writer: DirectWriter | None = None
        self.presence_id = uuid.uuid4().hex
        self.address = (self.scope.get("client") or (None,))[0]
        # A token's socket ends with the token as a session's with the session.
        token_id = self.scope.get("token_id")
        session = self.scope.get("session")
        self.session_id = fanout.session_id(
            fanout.token_session(token_id)
            if token_id is not None
            else getattr(session, "session_key", None)
        )
        # Read above and by nothing later: not held while the socket connects.
        self.scope.pop("session", None)
        self.presence_state = "active"
        self._revoked_while_connecting: set[int] | frozenset[int] = set()
        self._backlog = 0
        self._closing = False
        self._pending: list[str | None] = []  # at most MAX_PENDING_FRAMES: a list is enough
        self._worker: asyncio.Task | None = None
        if self.user is None or not self.user.is_authenticated:
            await self.close()
            return
        hub = Hub.current()
        refusal = await hub.admit(self)
        if refusal is not None:
            logger.warning("refusing a socket of user %s: %s", self.user_id, refusal)
            await self.accept()
            await self.close(code=TRY_AGAIN_LATER, reason=refusal)
            return
        # Hear the user's grants and revocations first, then subscribe to the rooms,
        # then read the state for hello: whatever commits in between either is in
        # hello or arrives live, and nothing falls between the two.
        self.hub = hub
        await self.hub.attach(self)
        try:
            await self._open()
        except OSError:
            await self.disconnect(None)  # the client left mid-handshake
        except BaseException:
            await self.disconnect(None)  # never leave the hub holding a dead socket
            raise

    async def _open(self) -> None:
        room_ids = await _member_room_ids(self.user)
        await self.hub.subscribe(self, room_ids - self._revoked_while_connecting)
        state = await _hello_state(self.user)
        await self.hub.check_in(self, "active")
        hello = await self.hub.hello(state)
        await self.accept()
        # Read at connect, and by uvicorn no more once accepted: ≈ 1 KiB a socket less.
        self.scope.clear()
        self._writer = DirectWriter.for_send(self.base_send)
        if self._writer is not None:
            self._writer.write(hello)  # framed once for the tabs that share it
        else:
            await self.send_text(hello.text)
        held, self._held = self._held, None
        self._revoked_while_connecting = NOTHING_REVOKED  # a set less per open socket
        self.deliver(*held)

    async def disconnect(self, code):
        self._pending.clear()  # nobody is left to answer
        await self._finish_frame()
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hub.detach(self)
            await hub.check_out(self)

    async def _finish_frame(self) -> None:
        """Let the frame being answered finish rather than be cut off: a send in flight
        commits and is published. Its ack cannot reach a client that has gone (the
        client's resend with the same client_msg_id gets the stored message), but a
        server stopping (1012) waits for this before it exits."""
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task():
            await asyncio.wait({worker}, timeout=FINISH_FRAME_SECONDS)

    async def receive(self, text_data=None, bytes_data=None):
        """Queue the frame for this socket's one worker, which answers frames in order.

        Taking frames off the server's queue at once means a client's close is seen at
        once too, and what it left unanswered is dropped, not worked through; a client
        that leaves MAX_PENDING_FRAMES unanswered is closed (1008) with them dropped.
        """
        if self._closing:
            return
        if len(self._pending) >= MAX_PENDING_FRAMES:
            logger.warning(
                "closing a socket of user %s: %d frames waiting for answers",
                self.user_id,
                len(self._pending),
            )
            self._pending.clear()
            self._closing = True
            await self.close(code=POLICY_VIOLATION)
            return
        self._pending.append(text_data)
        if self._worker is None:
            # Started eagerly: the frame is parsed and on its way to the database now,
            # not after a turn of the loop; a frame answered without waiting (a ping)
            # leaves a task already done, and no worker.
            worker = asyncio.Task(self._work(), loop=asyncio.get_running_loop(), eager_start=True)
            if not worker.done():
                self._worker = worker

    async def _work(self) -> None:
        try:
            while self._pending and not self._closing:
                text_data = self._pending.pop(0)
                try:
                    await self._receive(text_data)
                except Exception:
                    # Even the error frame could not be sent: close with a close frame,
                    # and let go of the socket now, not when a disconnect may come.
                    logger.exception("a socket failed handling a frame; closing it")
                    self._closing = True
                    await self._end(INTERNAL_ERROR)
        finally:
            self._worker = None

    async def _receive(self, text_data: str | None) -> None:
        command = None
        try:
            command = parse_frame(text_data)
            reply = await self.handle(command)
            if isinstance(reply, str):  # already encoded, with its request_id (an ack)
                await self.send_text(reply)
            elif reply is not None:
                await self.send_frame(frames.with_request_id(reply, command.request_id))
        except ChatError as error:
            await self.send_error(error, command)
        except (OperationalError, InterfaceError) as exc:
            # The database cannot be reached (a restart, a failover): one line per frame,
            # no traceback, as every frame fails alike until it is back.
            logger.warning("database unavailable for a frame (%s: %s)", type(exc).__name__, exc)
            await self.send_error(ChatError("unavailable", _("Try again shortly.")), command)
        except DatabaseError:
            logger.exception("database error handling a frame")
            await self.send_error(ChatError("unavailable", _("Try again shortly.")), command)
        except Exception:
            # A bug must cost one frame, not the tab's connection.
            logger.exception("unexpected error handling a frame")
            await self.send_error(ChatError("unavailable", _("Internal error.")), command)

    async def send_error(self, error: ChatError, command) -> None:
        """The error frame, paired with the command's ids when the command was parsed."""
        if command is not None:
            error.client_msg_id = error.client_msg_id or getattr(command, "client_msg_id", None)
            error.request_id = error.request_id or command.request_id
        await self.send_frame(frames.error(error))

    async def handle(self, command) -> dict | str | None:
        match command:
            case Send():
                # Its ack carries the message: the room's event skips this socket.
                return await _send(self.user, command, self.presence_id)
            case Fetch():
                return await _fetch(self.user, command)
            case Read():
                await _read(self.user, command)
                return None
            case Ping():
                return frames.pong()
            case Edit():
                return await _edit(self.user, command)
            case Delete():
                return await _delete(self.user, command)
            case React():
                return await _react(self.user, command)
            case Pin():
                return await _pin(self.user, command)
            case Typing():
                await _typing(self.user, command)
                return None
            case Presence():
                await self.hub.check_in(self, command.state)
                return None

    async def send_frame(self, frame: dict) -> None:
        await self.send_text(frames.encode(frame))

    async def send_text(self, text: str) -> None:
        """Send an encoded frame."""
        if self._writer is not None:
            self._writer.write(Event(text))  # what uvicorn's send would write, framed here
            return
        # OSError: the client left (uvicorn's ClientDisconnected); disconnect() cleans up.
        with contextlib.suppress(OSError):
            await self.send(text_data=text)

    # Called by the hub, on the event loop.

    def deliver(self, *events: Event) -> None:
        """Write already-encoded events without waiting for a slow client.

        Under uvicorn the framed bytes go straight to the connection, all of them
        in one write; past MAX_BUFFERED_BYTES not yet taken by the client, the
        socket is closed (1013) so it reconnects and catches up. Elsewhere the
        ASGI send runs eagerly, and past MAX_BACKLOG sends waiting the same happens.
        """
        if self._held is not None:
            self._held.extend(events)
            return
        if self._closing:
            return
        if self._writer is not None:
            if self._writer.buffered() > MAX_BUFFERED_BYTES:
                self._overloaded(f"{self._writer.buffered()} bytes")
            elif not self._writer.write(*events):
                self._closing = True  # the client is leaving; disconnect() cleans up
            return
        for event in events:
            self._send_eagerly(event)

    def _send_eagerly(self, event: Event) -> None:
        if self._backlog >= MAX_BACKLOG:
            if not self._closing:
                self._overloaded(f"{self._backlog} frames")
            return
        sending = asyncio.Task(
            self.base_send({"type": "websocket.send", "text": event.text}),
            loop=asyncio.get_running_loop(),
            eager_start=True,
        )
        if sending.done():
            self._settle(sending)
        else:
            self._backlog += 1
            sending.add_done_callback(self._sent)

    def granted(self, room_id: int) -> None:
        self.room_ids.add(room_id)
        if self._held is not None:
            self._revoked_while_connecting.discard(room_id)

    def session_ended(self) -> None:
        """The session logged out, or the user lost access: close now (4401), and let
        go of the socket without waiting for the client's goodbye."""
        if self._closing:
            return
        self._closing = True
        self._pending.clear()
        self._closer = asyncio.get_running_loop().create_task(self._end(SESSION_ENDED))

    async def _end(self, code: int) -> None:
        await self.close(code=code)
        await self.disconnect(code)

    def revoked(self, room_id: int) -> None:
        self.room_ids.discard(room_id)
        if self._held is not None:
            self._revoked_while_connecting.add(room_id)

    def _sent(self, sending: asyncio.Task) -> None:
        self._backlog -= 1
        self._settle(sending)

    def _settle(self, sending: asyncio.Task) -> None:
        if not sending.cancelled() and sending.exception() is not None:
            # The client went away mid-send; disconnect() cleans up.
            self._closing = True

    def _overloaded(self, waiting: str) -> None:
        self._closing = True
        ChatConsumer.overloaded_total += 1
        logger.warning(
            "closing a socket of user %s: %s waiting for a slow client "
            "(%d sockets closed for overload in this process)",
            self.user_id,
            waiting,
            ChatConsumer.overloaded_total,
        )
        self._closer = asyncio.get_running_loop().create_task(self.close(code=TRY_AGAIN_LATER))

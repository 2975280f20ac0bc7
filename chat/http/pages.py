"""Pages: the home page, the chat app shell, and the people directory."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_POST

from .. import queries, services
from ..access import users_named
from ..errors import ChatError
from ..queries.people import MAX_PEOPLE_QUERY


def _client_config(request: HttpRequest, room_id: int | None) -> dict:
    return {
        "user": request.user.pk,
        "room": room_id,
        "ws_path": "/ws/",
        "upload_max_bytes": settings.PARLEY_UPLOAD_MAX_BYTES,
        # The emoji picker's data, fetched on first use (hashed name in production).
        "emoji_url": static("chat/emoji.json"),
    }


def _home_context(request: HttpRequest, **extra) -> dict:
    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(pk=request.user.pk)
        .order_by("username")[:100]
    )
    return {
        "rooms": queries.rooms_for_user(request.user, with_last_message=True),
        "public_rooms": queries.public_rooms(request.user),
        "people": people,
        "client_config": _client_config(request, None),
        **extra,
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/home.html", _home_context(request))


@login_required
@require_POST
def join(request: HttpRequest) -> HttpResponse:
    """The home page's 'join or create a room' form."""
    name = request.POST.get("name", "")
    try:
        room, _created = services.create_or_join_room(request.user, name)
    except ChatError as error:
        context = _home_context(request, join_error=error.detail, join_name=name)
        return render(request, "chat/home.html", context, status=400)
    return redirect("room", room_id=room.pk)


@login_required
def room(request: HttpRequest, room_id: int) -> HttpResponse:
    try:
        room = queries.room_for_user(request.user, room_id)
    except ChatError:
        raise Http404 from None
    return render(
        request, "chat/room.html", {"room": room, "client_config": _client_config(request, room_id)}
    )


# The room a browser last showed, as "<user id>:<room id>" (set by app.js).
LAST_ROOM_COOKIE = "parley_room"


@login_required
def resume(request: HttpRequest) -> HttpResponse:
    """Where logging in lands: the room this browser last showed this user, if they may
    still open it, else the home page."""
    user_id, _, room_id = request.COOKIES.get(LAST_ROOM_COOKIE, "").partition(":")
    known = room_id.isascii() and room_id.isdigit() and len(room_id) <= 18  # fits a bigint
    if user_id == str(request.user.pk) and known:
        try:
            queries.room_for_user(request.user, int(room_id))
        except ChatError:
            pass
        else:
            return redirect("room", room_id=int(room_id))
    return redirect("home")


@login_required
def direct(request: HttpRequest, username: str) -> HttpResponse:
    """A link to a DM: the room if the caller is in it, or the app shell, which opens it
    by POST (the other person may have opened it first: the page does not say so).

    Opening a DM changes state, so a GET alone never creates one.
    """
    other = users_named(username).filter(is_active=True).first()
    if other is None or other.pk == request.user.pk:
        raise Http404
    room_id = queries.direct_room_id(request.user, other)
    if room_id is not None:
        return redirect("room", room_id=room_id)
    config = {**_client_config(request, None), "dm": other.username}
    return render(request, "chat/room.html", {"room": None, "peer": other, "client_config": config})


@login_required
def people(request: HttpRequest) -> HttpResponse:
    """The people directory: everyone active, searched by name on the server, a page of
    at most PEOPLE_PAGE at a time (`after` the last username shown). A search or page
    that cannot be read is answered 400 with the reason, the box keeping what was typed."""
    query, after = request.GET.get("q", ""), request.GET.get("after", "")
    context = {"query": query, "client_config": _client_config(request, None)}
    try:
        page = queries.people_page(query, after=after)
    except ChatError as error:
        context.update(error=error.detail, people=[], next=None, query=query[:MAX_PEOPLE_QUERY])
        return render(request, "chat/people.html", context, status=error.status)
    context.update(people=page["people"], next=page["next"], after=after)
    return render(request, "chat/people.html", context)


@login_required
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """An invite link: a page naming the room with one Join button (a GET changes
    nothing); the POST joins. A dead or unknown link gets the same page whatever room
    it was for. Signed out, login_required leads through login (or registration,
    which keeps `next`) and back here."""
    try:
        if request.method == "POST":
            room = services.accept_invite(request.user, token)
            return redirect("room", room_id=room.pk)
        room, member = queries.invite_target(request.user, token)
    except ChatError as error:
        return render(request, "chat/invite.html", {"error": error.detail}, status=error.status)
    if member:
        return redirect("room", room_id=room.pk)
    return render(request, "chat/invite.html", {"room": room})

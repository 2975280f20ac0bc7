"""A socket does not outlive its session: logout, a new password, deactivation and
deletion close it with 4401 ("log in again"), and its user is no longer in the hub."""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from chat.realtime.hub import Hub
from tests.factories import UserFactory
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_ENDED = 4401


@sync_to_async
def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tab_of(client: Client):
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return open_tab(headers=((b"cookie", cookie.encode()),))


def sockets_of(user) -> list:
    return [s for s in Hub.current().sockets if s.user_id == user.pk]


@pytest.fixture
async def ada(db):
    return await sync_to_async(UserFactory)(username="ada", password="an old secret 1")


async def test_logging_out_closes_that_sessions_sockets_only(ada):
    leaving, staying = await logged_in(ada), await logged_in(ada)
    async with tab_of(leaving) as gone, tab_of(staying) as kept:
        await sync_to_async(leaving.post)("/accounts/logout/")
        assert await gone.close_code() == SESSION_ENDED
        assert (await kept.request({"type": "ping"}, "pong"))["type"] == "pong"
        assert len(sockets_of(ada)) == 1


@pytest.mark.parametrize("change", ["password", "deactivation", "deletion"])
async def test_losing_access_closes_every_socket_of_the_user(ada, change):
    first, second = await logged_in(ada), await logged_in(ada)

    def lose_access():
        if change == "password":
            ada.set_password("a brand new secret 2")
            ada.save()
        elif change == "deactivation":
            ada.is_active = False
            ada.save()
        else:
            ada.delete()

    async with tab_of(first) as one, tab_of(second) as two:
        await sync_to_async(lose_access)()
        assert [await one.close_code(), await two.close_code()] == [SESSION_ENDED] * 2
        assert sockets_of(ada) == []


async def test_a_profile_save_that_changes_no_password_closes_nothing(ada):
    client = await logged_in(ada)
    async with tab_of(client) as tab:
        ada.display_name = "Ada L."
        await sync_to_async(ada.save)()
        assert (await tab.request({"type": "ping"}, "pong"))["type"] == "pong"


async def test_logging_out_everywhere_ends_every_session_and_socket_of_the_user(ada):
    asking, elsewhere = await logged_in(ada), await logged_in(ada)
    async with tab_of(asking) as one, tab_of(elsewhere) as two:
        answer = await sync_to_async(asking.post)("/accounts/logout/everywhere/")
        assert answer.status_code == 302
        assert [await one.close_code(), await two.close_code()] == [SESSION_ENDED] * 2
    for client in (asking, elsewhere):
        page = await sync_to_async(client.get)("/api/rooms/")
        assert page.status_code == 401
    await sync_to_async(ada.refresh_from_db)()
    others = await logged_in(ada)  # a new login works as before
    assert (await sync_to_async(others.get)("/api/rooms/")).status_code == 200

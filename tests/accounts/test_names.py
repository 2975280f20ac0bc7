import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.forms import RegisterForm
from accounts.models import User, name_taken
from accounts.names import name_skeletons, skeleton
from tests.factories import UserFactory, direct_room

NEW_PASSWORD = "a-much-longer-passphrase-42"


def clash(a: str, b: str) -> bool:
    return bool(set(name_skeletons(a)) & set(name_skeletons(b)))


@pytest.mark.parametrize(
    ("name", "look_alike"),
    [
        ("alice", "Аlice"),  # Cyrillic А
        ("alice", "аlice"),  # Cyrillic а
        ("alice", "ａｌｉｃｅ"),  # fullwidth
        ("alice", "𝐀lice"),  # mathematical bold
        ("alice", "ALICE"),  # case
        ("alice", "AIice"),  # a capital I for the l
        ("PayPal", "PayPaI"),
        ("lan", "Ian"),
        ("bob", "ВОВ"),  # Cyrillic capitals, whose small letters look like nothing Latin
        ("Bob", "Βοb"),  # Greek
        ("bob", "b0b"),  # a digit for a letter
        ("mary", "rnary"),  # two letters for one
        ("mary", "Μary"),  # Greek capital Mu
        ("John Smith", "John  Smith"),  # spaces
    ],
)
def test_look_alikes_clash(name, look_alike):
    assert clash(name, look_alike)
    assert clash(look_alike, name)


@pytest.mark.parametrize(
    ("name", "other"),
    [("alice", "alicia"), ("ian", "lan"), ("Zoe", "Zoë"), ("ada", "grace"), ("eva", "eve")],
)
def test_different_names_do_not_clash(name, other):
    assert not clash(name, other)


def test_skeleton_is_unicode_uts39():
    assert skeleton("Аlice") == "Alice"
    assert skeleton("rn") == skeleton("m") == "rn"
    assert skeleton("") == ""


@pytest.mark.django_db
class TestStoredSkeletons:
    def test_save_keeps_the_skeletons(self):
        user = UserFactory(username="alice", display_name="Ada L.")
        assert (user.username_skeleton, user.display_name_skeleton) == ("alice", "ada l.")
        user.display_name = "ВОВ"
        user.save(update_fields=["display_name"])
        user.refresh_from_db()
        assert user.display_name_skeleton_cased == "bob"

    def test_name_taken_is_one_query(self, django_assert_num_queries):
        UserFactory(username="alice", display_name="Bob")
        with django_assert_num_queries(1):
            assert name_taken("Аlice")
        assert name_taken("b0b")
        assert not name_taken("carol")
        assert not name_taken("")

    def test_own_names_are_not_taken(self):
        user = UserFactory(username="alice", display_name="Alice")
        assert not name_taken("ALICE", by_other_than=user.pk)


@pytest.mark.django_db
class TestRefused:
    @pytest.mark.parametrize("username", ["Аlice", "ALICE", "AIice", "ａｌｉｃｅ", "bob", "B0b"])
    def test_a_username_like_someone_elses_name_is_refused(self, username):
        UserFactory(username="alice", display_name="Bob")
        form = RegisterForm(
            data={"username": username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        assert not form.is_valid()
        assert "username" in form.errors
        assert User.objects.count() == 1

    def test_a_username_like_no_one_is_accepted(self):
        UserFactory(username="alice", display_name="Alice")
        form = RegisterForm(
            data={"username": "alicia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        assert form.is_valid(), form.errors

    @pytest.mark.parametrize("display_name", ["bob", "BOB", "Βοb", "Carol", "Саrоl", "ｃａｒｏｌ"])
    def test_a_display_name_like_someone_elses_name_is_refused(self, client, display_name):
        UserFactory(username="bob", display_name="")
        UserFactory(username="carol2", display_name="Carol")
        me = UserFactory(username="alice", display_name="Alice")
        client.force_login(me)
        response = client.post(reverse("profile"), {"display_name": display_name, "bio": ""})
        assert response.status_code == 200
        assert response.context["form"].errors.as_data()["display_name"][0].code == "look_alike"
        me.refresh_from_db()
        assert me.display_name == "Alice"

    @pytest.mark.parametrize("display_name", ["ALICE", "Аlice", "Alice Liddell"])
    def test_a_display_name_like_ones_own_username_is_accepted(self, client, display_name):
        me = UserFactory(username="alice", display_name="")
        client.force_login(me)
        response = client.post(reverse("profile"), {"display_name": display_name, "bio": ""})
        assert response.status_code == 302
        me.refresh_from_db()
        assert me.display_name == display_name

    def test_a_display_name_kept_is_not_judged_again(self, client):
        UserFactory(username="bob", display_name="")
        me = UserFactory(username="alice", display_name="Bob")  # from before the check
        client.force_login(me)
        response = client.post(reverse("profile"), {"display_name": "Bob", "bio": "new"})
        assert response.status_code == 302


@pytest.mark.django_db
def test_people_and_direct_rooms_show_the_username(client):
    me = UserFactory(username="alice")
    bob = UserFactory(username="bob", display_name="Robert")
    direct_room(me, bob)
    client.force_login(me)
    page = client.get(reverse("home")).content.decode()
    assert page.count("@bob") >= 2  # the direct room and the people list


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_accounts_their_skeletons():
    before, after = [("accounts", "0001_initial")], [("accounts", "0002_name_skeletons")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_user = executor.loader.project_state(before).apps.get_model("accounts", "User")
    old_user.objects.create(username="ALICE", display_name="Βοb")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert name_taken("alice") and name_taken("bob")
    user = User.objects.get(username="ALICE")
    assert (user.username_skeleton, user.display_name_skeleton_cased) == ("alice", "bob")

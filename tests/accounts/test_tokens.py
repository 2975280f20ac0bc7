"""accounts.tokens: a secret checked by its hash, its last use noted at most once a minute."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tokens
from accounts.models import Token

pytestmark = pytest.mark.django_db


def test_only_the_hash_is_stored_and_the_secret_finds_its_token(user):
    token, secret = tokens.make_token(user, name="ci")
    assert tokens.SECRET_SHAPE.match(secret)
    stored = Token.objects.get(pk=token.pk)
    assert stored.digest == tokens.digest(secret) and secret not in stored.digest
    assert tokens.authenticate(secret).user == user


def test_secrets_are_unguessable_and_never_repeat(user):
    secrets = {tokens.make_token(user, name=f"t{i}")[1] for i in range(20)}
    assert len(secrets) == 20


@pytest.mark.parametrize("secret", ["", "parley_short", "x" * 50, "parley_" + "!" * 43])
def test_a_secret_of_the_wrong_shape_is_refused_without_a_query(
    user, secret, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert tokens.authenticate(secret) is None


def test_one_character_off_is_refused(user):
    _token, secret = tokens.make_token(user, name="ci")
    other = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert tokens.authenticate(other) is None


def test_the_last_use_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    token, secret = tokens.make_token(user, name="ci")
    start = timezone.now()
    with django_assert_num_queries(2):  # the lookup, the first use noted
        tokens.authenticate(secret, now=start)
    for later in (timedelta(seconds=1), timedelta(seconds=59)):
        with django_assert_num_queries(1):  # the lookup alone
            tokens.authenticate(secret, now=start + later)
    token.refresh_from_db()
    assert token.last_used_at == start
    with django_assert_num_queries(2):
        tokens.authenticate(secret, now=start + timedelta(seconds=61))
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_at_most_so_many_tokens_are_held(user, monkeypatch):
    monkeypatch.setattr(tokens, "MAX_TOKENS", 2)
    tokens.make_token(user, name="a")
    tokens.make_token(user, name="b")
    with pytest.raises(tokens.ChatError) as refused:
        tokens.make_token(user, name="c")
    assert refused.value.code == "bad_request"
    assert Token.objects.count() == 2

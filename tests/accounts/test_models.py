from tests.factories import UserFactory


def test_shown_name_prefers_display_name(db):
    assert UserFactory(username="dora", display_name="Dora E.").shown_name == "Dora E."


def test_shown_name_falls_back_to_username(db):
    assert UserFactory(username="dora", display_name="").shown_name == "dora"

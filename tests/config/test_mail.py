import io

from django.core.mail import EmailMessage

from config.mail import ConsoleBackend


def test_the_console_shows_a_mail_as_written_so_a_long_link_can_be_copied():
    link = "http://127.0.0.1:8000/accounts/password/reset/" + "x" * 120 + "/"
    stream = io.StringIO()
    message = EmailMessage(
        "Reset", f"Hello Ada,\n\n{link}\n", "parley@localhost", ["ada@a.example"]
    )
    assert ConsoleBackend(stream=stream, alias="default").send_messages([message]) == 1
    shown = stream.getvalue()
    assert f"\n{link}\n" in shown
    assert shown.startswith("Subject: Reset\nFrom: parley@localhost\nTo: ada@a.example\n")

"""The console mail backend of `make run` (EMAIL_URL unset in DEBUG): each mail as a
person reads it, its headers and its text as written, so a link in it can be copied.
Django's own prints the encoded message, in which a line longer than 76 characters (a
password-reset link) is broken with "=" (quoted-printable)."""

from django.core.mail.backends import console


class ConsoleBackend(console.EmailBackend):
    def write_message(self, message) -> None:
        self.stream.write(
            f"Subject: {message.subject}\nFrom: {message.from_email}\n"
            f"To: {', '.join(message.to)}\n\n{message.body}\n{'-' * 79}\n"
        )

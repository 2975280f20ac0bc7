from io import BytesIO

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    SetPasswordForm,
    UserChangeForm,
    UserCreationForm,
    UsernameField,
)
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from PIL import UnidentifiedImageError

from chat import notifications
from chat.content import uploads
from chat.errors import ChatError

from . import throttle
from .models import User, name_taken

AVATAR_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
AVATAR_SIZE = 256


def refuse_look_alike(name: str, *, user: User | None = None, among_people: bool = False) -> None:
    """A name someone else's username or display name could be taken for is refused
    (only a person's, when `among_people`)."""
    if name_taken(name, by_other_than=user.pk if user else None, among_people=among_people):
        raise forms.ValidationError(
            _("This name looks too much like someone else's name: choose another."),
            code="look_alike",
        )


def checked_display_name(form: forms.ModelForm, *, among_people: bool = False) -> str:
    """A form's display name, stripped, printable and unlike anyone else's name (a name
    kept is not judged again): the profile's and a bot's alike, but a bot's only unlike
    a person's (`among_people`): bots wear a "bot" badge, and two rooms' webhooks may
    both be called "CI"."""
    name = form.cleaned_data["display_name"].strip()
    if any(not ch.isprintable() for ch in name):
        raise forms.ValidationError(_("The display name has invalid characters."))
    if name and name != form.initial.get("display_name"):
        user = form.instance if form.instance.pk else None
        refuse_look_alike(name, user=user, among_people=among_people)
    return name


class AdminUserForm(UserChangeForm):
    """The admin's user form: a username or display name staff change follows the rules
    a person's own forms follow (unlike anyone else's name; a bot's display name unlike
    a person's), so no one can be renamed into a look-alike from there either."""

    class Meta(UserChangeForm.Meta):
        model = User

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if username != self.initial.get("username"):
            refuse_look_alike(username, user=self.instance)
        return username

    def clean_display_name(self) -> str:
        return checked_display_name(self, among_people=self.instance.is_bot)


class WeakPasswordShownOnItsField:
    """Why a new password is refused (too short, too common…) shows under the field it was
    typed in: Django puts it under the confirmation. Checked only once the two match (else
    the confirmation says that they differ)."""

    typed_in = {"password2": "password1", "new_password2": "new_password1"}

    def validate_password_for_user(self, user, password_field_name="password2"):  # noqa: S107
        if self.cleaned_data.get(password_field_name):
            field = self.typed_in.get(password_field_name, password_field_name)
            super().validate_password_for_user(user, password_field_name=field)


class RegisterForm(WeakPasswordShownOnItsField, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    def clean_username(self) -> str:
        username = super().clean_username()
        if username:  # else already refused, as someone's in another case
            refuse_look_alike(username)
        return username


class BotForm(forms.ModelForm):
    """A bot's names (accounts.bots): the username under registration's rules (Django's
    characters, unique without regard to case, unlike anyone's name), the display name
    under the profile's."""

    class Meta:
        model = User
        fields = ("username", "display_name")
        field_classes = {"username": UsernameField}

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if username == self.initial.get("username"):
            return username
        others = User.objects.exclude(pk=self.instance.pk) if self.instance.pk else User.objects
        if others.filter(username__iexact=username).exists():
            raise forms.ValidationError(
                self.instance.unique_error_message(User, ["username"]), code="unique"
            )
        refuse_look_alike(username, user=self.instance if self.instance.pk else None)
        return username

    def clean_display_name(self) -> str:
        return checked_display_name(self, among_people=True)


class BotEditForm(BotForm):
    """A bot's names and avatar on its owner's Bots page (the avatar as a profile's)."""

    avatar = forms.FileField(
        label=_("Avatar"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )

    class Meta(BotForm.Meta):
        fields = ("username", "display_name", "avatar")

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            return normalized_avatar(avatar)
        return avatar


class TokenNameForm(forms.Form):
    """The name of a new API token: what it is for, so it can be told apart later."""

    name = forms.CharField(label=_("Name"), max_length=64)


class NewPasswordForm(WeakPasswordShownOnItsField, SetPasswordForm):
    """A new password from a reset link."""


class ChangePasswordForm(WeakPasswordShownOnItsField, PasswordChangeForm):
    """A new password in place of the old one."""


class ThrottledLogin:
    """A login form's failed attempts counted per account name and per address (budgets
    login_account, login_address): past either, no password is checked. A name with no
    account counts like one that has, so nothing tells them apart."""

    throttled = False

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        budgets = {
            "login_account": throttle.account_key(username),
            "login_address": throttle.client_address(self.request),
        }
        wait = throttle.wait_for_any(budgets)
        if wait:
            self.throttled = True
            raise forms.ValidationError(
                _("Too many failed attempts to log in. Try again in %(minutes)s min.")
                % {"minutes": throttle.minutes(wait)},
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login":
                throttle.spend_all(budgets)
            raise

    def confirm_login_allowed(self, user) -> None:
        """A bot (accounts.bots) never logs in with a password, even one staff gave it in
        the admin: refused as a wrong password is, so nothing tells them apart."""
        if user.is_bot:
            raise self.get_invalid_login_error()
        super().confirm_login_allowed(user)


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    """The admin's login (accounts/admin.py), under the same budgets."""


def normalized_avatar(upload: UploadedFile) -> InMemoryUploadedFile:
    """Decode the upload and re-encode it as a small PNG.

    Re-encoding drops anything that is not pixels (metadata, polyglot payloads)
    and bounds what is stored, whatever the client sent. Decoding takes the bounded
    memory of message attachments (chat.content.uploads.bounded_image).
    """
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise forms.ValidationError(
            _("The image is too large (%(size)s); the limit is %(limit)s."),
            code="too_large",
            params={
                "size": filesizeformat(upload.size),
                "limit": filesizeformat(settings.AVATAR_MAX_BYTES),
            },
        )
    try:
        with uploads.bounded_image(upload) as image:
            if image.format not in AVATAR_FORMATS:
                raise forms.ValidationError(
                    _("Use a PNG, JPEG, GIF or WebP image."), code="bad_type"
                )
            if image.mode in ("1", "P"):  # a palette scales poorly: to colours first
                image = image.convert("RGBA")
            image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))  # a JPEG decodes reduced
            image = image.convert("RGBA")
        out = BytesIO()
        image.save(out, format="PNG", optimize=True)
    except ChatError as error:  # too many pixels
        raise forms.ValidationError(error.detail, code=error.code) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise forms.ValidationError(_("Upload a valid image."), code="invalid_image") from exc
    return InMemoryUploadedFile(
        out, "avatar", "avatar.png", "image/png", out.getbuffer().nbytes, None
    )


class ProfileForm(forms.ModelForm):
    avatar = forms.FileField(
        label=_("Avatar"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )

    class Meta:
        model = User
        fields = ("display_name", "bio", "time_zone", "avatar", "email")
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 4}),
            "time_zone": forms.TextInput(
                attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}
            ),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in per form, not at import, so that it is in the request's language.
        self.fields["avatar"].help_text = _("PNG, JPEG, GIF or WebP, at most %(limit)s.") % {
            "limit": filesizeformat(settings.AVATAR_MAX_BYTES)
        }
        self.fields["time_zone"].label = _("Time zone (optional)")
        self.fields["time_zone"].help_text = _(
            "A name such as Europe/Berlin: people who open your card see your local time."
        )
        self.fields["email"].label = _("Email address (optional)")
        self.fields["email"].help_text = _(
            "Only for resetting your password, once you have confirmed it by the link we "
            "mail to it. Nobody else sees it."
        )

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"].strip())

    def save(self, commit=True):
        if "email" in self.changed_data:
            self.instance.verified_email = ""  # confirmed anew, by a link to the new address
        return super().save(commit)

    def clean_time_zone(self) -> str:
        return self.cleaned_data["time_zone"].strip()  # the model's validator judges it

    def clean_display_name(self) -> str:
        return checked_display_name(self)

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            return normalized_avatar(avatar)
        return avatar


class DeleteAccountForm(forms.Form):
    """Deleting an account asks for its password; wrong ones count as failed logins
    of the account (login_account)."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        budget = {"login_account": throttle.account_key(self.user.username)}
        wait = throttle.wait_for_any(budget)
        if wait:
            raise forms.ValidationError(
                _("Too many wrong passwords. Try again in %(minutes)s min.")
                % {"minutes": throttle.minutes(wait)},
                code="throttled",
            )
        if not self.user.check_password(password):
            throttle.spend_all(budget)
            raise forms.ValidationError(_("That is not your password."), code="wrong_password")
        return password


class NotificationSettingsForm(forms.Form):
    """The user's default notification level (chat.notifications)."""

    notify_default = forms.ChoiceField(
        label=_("Notify me of"), choices=notifications.Level.choices, widget=forms.RadioSelect
    )

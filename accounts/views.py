from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.core.handlers.asgi import ASGIRequest
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import FormView, UpdateView

from chat import limits, services
from chat.errors import ChatError
from chat.realtime.fanout import end_sessions

from . import email, export, throttle
from .deletion import delete_account
from .forms import (
    DeleteAccountForm,
    LoginForm,
    NotificationSettingsForm,
    ProfileForm,
    RegisterForm,
    TokenNameForm,
)
from .models import time_zones

TOO_MANY_CONFIRMATIONS = _("Too many confirmation mails. Try again in %(minutes)s min.")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    form_class = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = throttle.TOO_MANY_REQUESTS
        return response


class RegisterView(auth_views.RedirectURLMixin, FormView):
    """Registration; like login it goes on to a safe `next` (an invite link, say)."""

    template_name = "accounts/register.html"
    form_class = RegisterForm
    next_page = "home"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "next": self.get_redirect_url()}

    def form_valid(self, form):
        wait = limits.wait_for("register_address", throttle.client_address(self.request))
        if wait:
            message = _(
                "Too many accounts were made from your address. Try again in %(minutes)s min."
            )
            return throttle.refused(self, form, message, wait)
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(self.get_success_url())


class ProfileView(LoginRequiredMixin, SuccessMessageMixin, UpdateView):
    template_name = "accounts/profile.html"
    form_class = ProfileForm
    success_url = reverse_lazy("profile")
    success_message = _("Your profile was saved.")
    # Not "user": the page and nav bar show request.user, the saved profile.
    context_object_name = "edited"

    def get_object(self, queryset=None):
        # A copy: a rejected form must not leave its values on request.user (the nav bar).
        return get_user_model().objects.get(pk=self.request.user.pk)

    def form_valid(self, form):
        new_email = "email" in form.changed_data and form.cleaned_data["email"]
        if new_email:
            wait = limits.wait_for("confirm_email", self.request.user.pk)
            if wait:
                form.add_error(
                    "email", TOO_MANY_CONFIRMATIONS % {"minutes": throttle.minutes(wait)}
                )
                return self.form_invalid(form)
        old_avatar = form.initial.get("avatar")
        response = super().form_valid(form)
        if old_avatar and "avatar" in form.changed_data:
            storage, name = old_avatar.storage, old_avatar.name
            transaction.on_commit(lambda: storage.delete(name))
        if new_email:
            _send_confirmation(self.request, self.object)
        return response

    def form_invalid(self, form):
        messages.error(self.request, _("Your profile was not saved: please correct the errors."))
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        # The time zone field's suggestions (a datalist): every zone the form accepts;
        # the API tokens section: the user's tokens, without secrets.
        return {
            **super().get_context_data(**kwargs),
            "time_zones": sorted(time_zones()),
            "api_tokens": self.request.user.tokens.order_by("-created_at", "-pk"),
            "token_form": TokenNameForm(auto_id="token_%s"),
        }


def _send_confirmation(request: HttpRequest, user) -> None:
    """Mail the user a confirmation link and say so on the next page."""
    if email.send_confirmation(request, user):
        messages.info(
            request,
            _("We sent a link to %(email)s: follow it to confirm the address.")
            % {"email": user.email},
        )
    else:
        messages.error(request, _("The confirmation mail could not be sent. Try again later."))


@login_required
@require_POST
def send_confirmation(request: HttpRequest) -> HttpResponse:
    """The profile page's "send the link again"."""
    user = request.user
    if user.email and not user.email_verified:
        wait = limits.wait_for("confirm_email", user.pk)
        if wait:
            messages.error(request, TOO_MANY_CONFIRMATIONS % {"minutes": throttle.minutes(wait)})
        else:
            _send_confirmation(request, user)
    return redirect("profile")


@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """Where the confirmation link leads: a button that confirms (a link alone changes
    nothing, whatever opens it). No login needed: another device may open it."""
    if request.method == "POST":
        done = email.confirm(token)
        template, context = "accounts/email_confirmed.html", {"confirmed": done}
    else:
        done = email.confirmable(token)
        template, context = "accounts/confirm_email.html", {"account": done}
    return render(request, template, context, status=200 if done else 400)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's: a mail to each account whose confirmed address this is (accounts.email),
    the same answer whether there is one or not, requests counted per address."""

    form_class = email.ResetForm
    template_name = "accounts/password_reset.html"
    subject_template_name = "accounts/password_reset_subject.txt"
    email_template_name = "accounts/password_reset_email.txt"

    def form_valid(self, form):
        wait = limits.wait_for("reset_address", throttle.client_address(self.request))
        if wait:
            message = _(
                "Too many password resets were asked for from your address. "
                "Try again in %(minutes)s min."
            )
            return throttle.refused(self, form, message, wait)
        return super().form_valid(form)


class DeleteAccountView(LoginRequiredMixin, FormView):
    """The account goes once its password is given (accounts.deletion); this session
    ends. Its other sessions find no user and are logged out at their next request."""

    template_name = "accounts/delete.html"
    form_class = DeleteAccountForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        delete_account(get_user_model().objects.get(pk=self.request.user.pk))
        logout(self.request)
        messages.success(self.request, _("Your account was deleted."))
        return redirect("login")


@login_required
@require_GET
def download_data(request: HttpRequest) -> HttpResponse:
    """The caller's profile and messages as a JSON file (accounts.export), streamed."""
    user = request.user
    wait = limits.wait_for("data_export", user.pk)
    if wait:
        messages.error(
            request,
            _("You downloaded your data a moment ago. Try again in %(minutes)s min.")
            % {"minutes": throttle.minutes(wait)},
        )
        return redirect("profile")
    pieces = export.adocument(user) if isinstance(request, ASGIRequest) else export.document(user)
    response = StreamingHttpResponse(pieces, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"parley-{user.username}.json"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def log_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of the user, this one included, and their open sockets."""
    user = request.user
    get_user_model().objects.filter(pk=user.pk).update(
        session_generation=F("session_generation") + 1
    )
    end_sessions(user.pk)
    logout(request)
    messages.success(request, _("You have been logged out everywhere."))
    return redirect("login")


class NotificationSettingsView(LoginRequiredMixin, FormView):
    """The user's default notification level, kept on the server for every device; the
    page also turns desktop notifications on in this browser (chat/.../notifysettings.js)."""

    template_name = "accounts/notifications.html"
    form_class = NotificationSettingsForm
    success_url = reverse_lazy("notification_settings")

    def get_initial(self):
        return {"notify_default": self.request.user.notify_default}

    def form_valid(self, form):
        try:
            services.set_notify_default(self.request.user, form.cleaned_data["notify_default"])
        except ChatError as error:
            form.add_error(None, error.detail)
            return self.form_invalid(form)
        messages.success(self.request, _("Your notification settings were saved."))
        return super().form_valid(form)

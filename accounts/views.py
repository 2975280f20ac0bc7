from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, UpdateView

from chat import limits

from . import throttle
from .forms import LoginForm, ProfileForm, RegisterForm

TOO_MANY_REQUESTS = 429


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    form_class = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = TOO_MANY_REQUESTS
        return response


class RegisterView(FormView):
    template_name = "accounts/register.html"
    form_class = RegisterForm
    success_url = reverse_lazy("home")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(self.success_url)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        wait = limits.wait_for("register_address", throttle.client_address(self.request))
        if wait:
            form.add_error(
                None,
                _("Too many accounts were made from your address. Try again in %(minutes)s min.")
                % {"minutes": throttle.minutes(wait)},
            )
            response = self.form_invalid(form)
            response.status_code = TOO_MANY_REQUESTS
            return response
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
        old_avatar = form.initial.get("avatar")
        response = super().form_valid(form)
        if old_avatar and "avatar" in form.changed_data:
            storage, name = old_avatar.storage, old_avatar.name
            transaction.on_commit(lambda: storage.delete(name))
        return response

    def form_invalid(self, form):
        messages.error(self.request, _("Your profile was not saved: please correct the errors."))
        return super().form_invalid(form)

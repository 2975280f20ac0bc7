from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import integrations, views
from .forms import ChangePasswordForm, NewPasswordForm

urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("logout/everywhere/", views.log_out_everywhere, name="logout_everywhere"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path(
        "notifications/",
        views.NotificationSettingsView.as_view(),
        name="notification_settings",
    ),
    path("delete/", views.DeleteAccountView.as_view(), name="delete_account"),
    path("tokens/", integrations.new_token, name="new_token"),
    path("tokens/<int:token_id>/revoke/", integrations.revoke_token, name="revoke_token"),
    path("bots/", integrations.bot_list, name="bots"),
    path("bots/<int:bot_id>/", integrations.edit_bot, name="edit_bot"),
    path("bots/<int:bot_id>/tokens/", integrations.new_bot_token, name="new_bot_token"),
    path(
        "bots/<int:bot_id>/tokens/<int:token_id>/revoke/",
        integrations.revoke_bot_token,
        name="revoke_bot_token",
    ),
    path("bots/<int:bot_id>/delete/", integrations.delete_bot, name="delete_bot"),
    path("data/", views.download_data, name="download_data"),
    path("email/confirm/", views.send_confirmation, name="send_confirmation"),
    path("email/confirm/<str:token>/", views.confirm_email, name="confirm_email"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            form_class=ChangePasswordForm,
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html", form_class=NewPasswordForm
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_done.html"
        ),
        name="password_reset_complete",
    ),
]

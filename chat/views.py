from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    people = get_user_model().objects.exclude(pk=request.user.pk).order_by("username")[:50]
    return render(request, "chat/home.html", {"people": people})

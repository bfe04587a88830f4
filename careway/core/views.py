"""Placeholder views: each is being replaced by its real page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect


@login_required
def home(request):
    return redirect("caseload")


def _todo(request, *args, **kwargs):
    return HttpResponse("Not built yet", status=501)


login_view = two_factor_verify = two_factor_setup = logout_view = account = _todo
user_list = user_create = user_detail = audit_log = audit_export = _todo
break_glass = notifications = _todo

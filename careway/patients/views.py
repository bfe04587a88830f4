from django.http import HttpResponse


def caseload(request):
    return HttpResponse("caseload")

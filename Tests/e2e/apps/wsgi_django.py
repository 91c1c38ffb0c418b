"""A one-file Django project (test_wsgi_frameworks), imported from the test venv."""

import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="yimmo-wsgi-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()


def index(request):
    return HttpResponse("Hello from Django")


def echo(request):
    return JsonResponse({
        "method": request.method,
        "path": request.path,
        "script_name": request.META.get("SCRIPT_NAME"),
        "query": request.GET.dict(),
        "form": request.POST.dict(),
        "body_length": len(request.body) if request.method != "POST" or not request.POST else None,
    })


urlpatterns = [path("", index), path("echo", echo)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

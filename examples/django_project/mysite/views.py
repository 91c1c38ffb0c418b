import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST


@require_GET
def index(request):
    return HttpResponse(f"Hello from Django, {request.META['REMOTE_ADDR']}!\n", content_type="text/plain")


@require_POST
def echo(request):
    if request.content_type == "application/json":
        return JsonResponse({"framework": "django", "json": json.loads(request.body)})
    return JsonResponse({"framework": "django", "form": request.POST.dict()})

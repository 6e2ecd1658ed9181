from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """The request type views receive: HtmxMiddleware adds `htmx` to every request."""

    htmx: HtmxDetails


def wants_fragment(request: HtmxHttpRequest) -> bool:
    """HTMX swaps want a fragment; a boosted navigation or a history restore wants the page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def querystring_without_page(request: HtmxHttpRequest) -> str:
    """The current filters, for pager links that add their own page number."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    """The 403 page: says who may do this, and changes nothing."""
    return render(request, "forbidden.html", {"message": message}, status=403)

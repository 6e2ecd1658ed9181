from django.http import HttpRequest
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

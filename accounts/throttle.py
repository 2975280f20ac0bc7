"""Budgets of the account pages (chat.limits): failed logins per account and per address,
registrations and password-reset requests per address, and who they are counted for.

The address is the request's REMOTE_ADDR, the peer of the connection. Behind a proxy
that is the proxy, unless the server takes the client's address from the proxy's
X-Forwarded-For: uvicorn (config.serve) does for proxies listed in --forwarded-allow-ips
(default 127.0.0.1). An IPv6 address counts by its /64, which one subscriber usually
holds whole.
"""

import hashlib
import ipaddress
import math

from django.http import HttpRequest, HttpResponse

from chat import limits

TOO_MANY_REQUESTS = 429


def client_address(request: HttpRequest | None) -> str:
    """Who an address budget is counted for: the IPv4 address or the IPv6 /64."""
    address = (request.META.get("REMOTE_ADDR") if request is not None else None) or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def account_key(name: str) -> str:
    """Who an account budget is counted for: the name typed (not whether it exists),
    case-blind, hashed to a short key whatever was typed."""
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]


def wait_for_any(budgets: dict[str, str]) -> float:
    """Seconds until every one of these budgets (name → who) allows one more; spends nothing."""
    return max(limits.wait_for(name, who, cost=0) for name, who in budgets.items())


def spend_all(budgets: dict[str, str]) -> None:
    for name, who in budgets.items():
        limits.wait_for(name, who)


def minutes(seconds: float) -> int:
    """A wait as people are told it: whole minutes, at least one."""
    return max(1, math.ceil(seconds / 60))


def refused(view, form, message: str, wait: float) -> HttpResponse:
    """The form again with `message` (a "%(minutes)s" in it) as its error, answered 429."""
    form.add_error(None, message % {"minutes": minutes(wait)})
    response = view.form_invalid(form)
    response.status_code = TOO_MANY_REQUESTS
    return response

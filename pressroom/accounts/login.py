"""Admin sign-in with a lock-out, per account and per address (pressroom.lib.ratelimit).

Every attempt is counted before its password is checked, so a burst of guesses, however
concurrent, gets at most the limit's number of password checks; the rest are refused unread
until the window ends. A successful sign-in clears the account's count, not the address's (an
attacker with an account of their own must not be able to reset it).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from pressroom.lib.ratelimit import Limit, client_address


def account_limit() -> Limit:
    return Limit(
        "login-account", settings.LOGIN_ATTEMPTS_PER_ACCOUNT, settings.LOGIN_LOCKOUT_SECONDS
    )


def address_limit() -> Limit:
    return Limit(
        "login-address", settings.LOGIN_ATTEMPTS_PER_ADDRESS, settings.LOGIN_LOCKOUT_SECONDS
    )


class LimitedAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": "Too many sign-in attempts. Try again in %(minutes)s minutes.",
    }

    def clean(self) -> dict:
        username = (self.cleaned_data.get("username") or "")[:150]
        address = client_address(self.request) if self.request else ""
        accounts, addresses = account_limit(), address_limit()
        # Both are counted, so a locked address cannot be used to probe accounts for free.
        account_ok = accounts.hit(username)
        address_ok = addresses.hit(address)
        if not (account_ok and address_ok):
            minutes = max(
                1,
                -(
                    -max(
                        accounts.retry_after(username) if not account_ok else 0,
                        addresses.retry_after(address) if not address_ok else 0,
                    )
                    // 60
                ),
            )
            raise ValidationError(
                self.error_messages["locked"], code="locked", params={"minutes": minutes}
            )
        cleaned = super().clean()
        accounts.clear(username)
        return cleaned


def install() -> None:
    """Make the admin's sign-in page use the limited form (called from AppConfig.ready())."""
    admin.site.login_form = LimitedAuthenticationForm

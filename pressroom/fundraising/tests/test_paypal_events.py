"""Any event PayPal could sign, with any field replaced by anything, is read as facts or
rejected (EventRejected, stored as "rejected"): never another exception, so never a 500."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressroom.fundraising.providers import EventRejected, VerifiedEvent
from pressroom.fundraising.providers.paypal import PayPalProvider
from pressroom.fundraising.providers.paypal.tests import fake_paypal
from pressroom.fundraising.services import check_fact

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

ORDER = {
    "id": "5O190127TN364715T",
    "status": "COMPLETED",
    "payer": {"name": {"given_name": "Dana", "surname": "Donor"}, "email_address": "d@e.org"},
    "purchase_units": [
        {
            "custom_id": "a=25.00;k=USD;r=;c=end-of-year",
            "payments": {
                "captures": [
                    {
                        "id": "3C679366HH908993F",
                        "status": "COMPLETED",
                        "amount": {"currency_code": "USD", "value": "25.00"},
                        "create_time": "2026-11-30T07:00:00Z",
                    }
                ]
            },
        }
    ],
}
SUBSCRIPTION = {
    "id": "I-BW452GLLEP1G",
    "status": "ACTIVE",
    "custom_id": "a=10.00;k=USD;r=7;c=end-of-year",
    "subscriber": {"email_address": "d@e.org", "name": {"given_name": "Dana"}},
    "status_update_time": "2026-11-30T07:00:00Z",
    "billing_info": {
        "failed_payments_count": 2,
        "last_failed_payment": {
            "amount": {"currency_code": "USD", "value": "10.00"},
            "time": "2026-11-30T07:00:00Z",
        },
    },
}
EVENTS = [
    fake_paypal.order_approved(ORDER),
    fake_paypal.envelope("CHECKOUT.ORDER.COMPLETED", "checkout-order", ORDER, "done"),
    fake_paypal.capture_completed(
        ORDER["purchase_units"][0]["payments"]["captures"][0], ORDER["id"]
    ),
    fake_paypal.capture_refunded(
        "3C679366HH908993F", refund_value="5.00", total_refunded="5.00", currency="USD"
    ),
    *[
        fake_paypal.subscription_event(kind, SUBSCRIPTION, kind)
        for kind in (
            "BILLING.SUBSCRIPTION.ACTIVATED",
            "BILLING.SUBSCRIPTION.CANCELLED",
            "BILLING.SUBSCRIPTION.SUSPENDED",
            "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        )
    ],
    fake_paypal.sale_completed("I-BW452GLLEP1G", value="10.00", currency="USD"),
    fake_paypal.sale_refunded(
        "8AB12345CD678901E", value="10.00", total_refunded="10.00", currency="USD"
    ),
]


def test_every_sample_event_gives_facts_within_bounds():
    provider = PayPalProvider()
    for event in EVENTS:
        facts = provider.interpret_event(VerifiedEvent(event["id"], event["event_type"], event))
        for fact in facts:
            check_fact(fact)
        assert facts, event["event_type"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_field_of_any_event_replaced_by_anything_is_read_or_rejected(data):
    event = copy.deepcopy(data.draw(st.sampled_from(EVENTS)))
    resource = event["resource"]
    for key in data.draw(st.lists(st.sampled_from(sorted(resource)), max_size=3)):
        resource[key] = data.draw(json_values)
    if data.draw(st.booleans()):
        event["create_time"] = data.draw(json_values)
    try:
        facts = PayPalProvider().interpret_event(
            VerifiedEvent(event["id"], event["event_type"], event)
        )
        for fact in facts:
            check_fact(fact)
    except EventRejected:
        pass

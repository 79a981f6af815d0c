"""Ways staff record money that arrived outside any online processor (Donation.provider).

Kept apart from the models so the providers' registry and the models both read one list. The
database's uniqueness rules name these methods (an offline reference is unique per donor, a
processor's per processor), so a new method here needs a migration of those constraints.
"""

from __future__ import annotations

OFFLINE_METHODS: dict[str, str] = {
    "cheque": "Cheque",
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "other_processor": "Another processor",
    "other": "Other",
}

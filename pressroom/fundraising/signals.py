"""What the fundraising services announce once their transaction commits, for the processor
tasks to act on (pressroom/fundraising/processor_tasks.py connects to these in ready()): the
services never import those tasks, which call back into the services."""

from django.dispatch import Signal

# A donor approved a checkout the merchant must settle (PayPal's capture): provider_name,
# reference.
checkout_to_settle = Signal()
# A monthly gift moved to another processor; its old subscription must be cancelled there:
# recurring_id.
gift_moved = Signal()

"""Extra demo content from other apps, run by `pressroom demo` after the articles exist.

Each app that has demo content adds a function here that creates it and returns a line to print.
"""

from collections.abc import Callable, Iterator

DEMO_STEPS: list[str] = [
    "pressroom.accounts.demo.give_demo_editor_roles",
    "pressroom.search.demo.index_demo_articles",
    "pressroom.fundraising.demo.create_demo_campaign",
]


def run_demo_steps() -> Iterator[str]:
    from django.utils.module_loading import import_string

    for dotted in DEMO_STEPS:
        step: Callable[[], str] = import_string(dotted)
        yield step()

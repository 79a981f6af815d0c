"""`pressroom demo`: a deterministic demo corpus, its About, Contact and Privacy pages, a demo
editor account, and the other apps' demo content (a running campaign). The corpus is written through publishing's bulk service, which
indexes each batch for search (articles_written) and announces the change after commit
(content_changed): nothing here repeats that.

It lives in front, which sits on top of every app, so it imports what it runs.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from pressroom.accounts.demo import give_demo_editor_roles
from pressroom.fundraising.demo import create_demo_campaign
from pressroom.publishing.demo import create_demo_corpus, create_demo_pages
from pressroom.publishing.models import Article

DEMO_EDITOR = ("editor", "editor-demo-password")


class Command(BaseCommand):
    help = "Generate a deterministic demo corpus (articles, topics, authors) and a demo editor."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--articles", type=int, default=400)
        parser.add_argument("--topics", type=int, default=60)
        parser.add_argument("--authors", type=int, default=12)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when articles already exist."
        )

    def handle(self, *args: object, **options: int) -> None:
        if options["articles"] < 0 or options["topics"] < 1 or options["authors"] < 1:
            raise CommandError("--articles must be 0 or more; --topics and --authors 1 or more.")
        if Article.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Demo content is already there.")
                self._print_login()
                return
            raise CommandError("Articles already exist; the demo corpus goes into an empty site.")
        created = create_demo_corpus(
            options["articles"],
            topics=options["topics"],
            authors=options["authors"],
            seed=options["seed"],
        )
        pages = create_demo_pages()
        self._create_editor()
        self.stdout.write(create_demo_campaign())
        self.stdout.write(f"Created {pages} demo pages (About, Contact, Privacy).")
        self.stdout.write(self.style.SUCCESS(f"Created {created} demo articles."))
        self._print_login()

    def _create_editor(self) -> None:
        username, password = DEMO_EDITOR
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "email": "editor@example.org"}
        )
        if created:
            user.set_password(password)
            user.save()
        self.stdout.write(give_demo_editor_roles(user))

    def _print_login(self) -> None:
        """Print the demo login, unless the account is gone or its password was changed."""
        username, password = DEMO_EDITOR
        user = get_user_model().objects.filter(username=username).first()
        if user is not None and user.check_password(password):
            self.stdout.write(f"Demo editor login: {username} / {password} at /admin/")

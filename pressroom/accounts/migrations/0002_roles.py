"""Create the staff roles' groups (pressroom/accounts/roles.py) and give them their permissions.

The permissions of apps that migrate later are granted by the post_migrate sync that follows
every migrate; this migration makes the groups exist from the first one on. An Editor group made
by an earlier version loses the newsletter and fundraising permissions it used to hold: give
those people the Audience or Fundraising role.
"""

from django.db import migrations


def create_roles(apps, schema_editor):
    from pressroom.accounts.roles import sync_roles

    sync_roles(
        apps.get_model("auth", "Group"),
        apps.get_model("auth", "Permission"),
        schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_counters"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

import os

from django.core.management import BaseCommand, CommandError

from users_app.services import UserError, ensure_admin

DEFAULT_ADMIN_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = (
        "Create the first administrator if there is none (run by `make run`). ADMIN_EMAIL and ADMIN_PASSWORD "
        f"override the defaults ({DEFAULT_ADMIN_EMAIL}, a generated password). The password is printed once."
    )

    def handle(self, *args, **options):
        email = os.environ.get("ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL
        try:
            admin, password = ensure_admin(email, os.environ.get("ADMIN_PASSWORD") or None)
        except UserError as error:
            raise CommandError(str(error))
        if password is None:
            self.stdout.write(f"Administrator exists: {admin.email}")
            return
        self.stdout.write(self.style.SUCCESS("Created the first administrator. Note the password: it is not "
                                             "shown again (reset it with manage.py reset_admin_password)."))
        self.stdout.write(f"  Email:    {admin.email}")
        self.stdout.write(f"  Password: {password}")

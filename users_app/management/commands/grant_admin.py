from django.core.management import CommandError

from users_app.management.cli import PromptingCommand
from users_app.services import UserError, set_admin


class Command(PromptingCommand):
    help = "Make a user an administrator."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", help="The user's email (asked when omitted).")

    def handle(self, *args, **options):
        email = options["email"] or self.ask_text("Please enter the user's email: ")
        try:
            user = set_admin(email, True)
        except UserError as error:
            raise CommandError(str(error))
        self.stdout.write(self.style.SUCCESS(f"Admin access has been granted to {user.email}."))

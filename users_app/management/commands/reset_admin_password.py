from django.core.exceptions import ValidationError
from django.core.management import CommandError

from users_app.management.cli import PromptingCommand
from users_app.services import UserError, find_admin, generate_password, set_password


class Command(PromptingCommand):
    help = (
        "Reset the administrator's password. Prompts for a new one (empty = generate and print one) and "
        "whether to end the administrator's existing sessions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", help="The administrator to reset (needed when there are several).")
        choice = parser.add_mutually_exclusive_group()
        choice.add_argument("--password", help="The new password (avoid: it stays in the shell history).")
        choice.add_argument("--generate", action="store_true", help="Generate a random password and print it.")
        sessions = parser.add_mutually_exclusive_group()
        sessions.add_argument("--end-sessions", dest="end_sessions", action="store_true", default=None,
                              help="Log the administrator out everywhere (the default answer).")
        sessions.add_argument("--keep-sessions", dest="end_sessions", action="store_false",
                              help="Keep the administrator's existing sessions logged in.")
        parser.add_argument("--no-input", dest="interactive", action="store_false",
                            help="Ask nothing: generate a password unless --password, end sessions unless "
                                 "--keep-sessions.")

    def handle(self, *args, **options):
        try:
            admin = find_admin(options["email"])
        except UserError as error:
            raise CommandError(str(error))
        self.stdout.write(f"Resetting the password of {admin.email}.")

        password = options["password"]
        if password is None and not options["generate"] and options["interactive"]:
            password = self.ask_secret("Please choose a new password (optional): ")
        generated = not password
        if generated:
            password = generate_password()

        end_sessions = options["end_sessions"]
        if end_sessions is None:
            end_sessions = self.ask_yes_no("Invalidate existing sessions?", True) if options["interactive"] else True

        try:
            set_password(admin, password, end_sessions=end_sessions)
        except ValidationError as error:
            raise CommandError("The password was not accepted: " + " ".join(error.messages))

        if generated:
            self.stdout.write(f"The new password is: {password}")
        self.stdout.write(self.style.SUCCESS(f"The password of {admin.email} has been updated."))
        self.stdout.write("Existing sessions have been ended." if end_sessions else "Existing sessions were kept.")

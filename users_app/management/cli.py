"""Shared pieces of the server CLI: prompts that work on a terminal and from a pipe, and the login-method
switches. Commands accept `stdin=` from call_command (as createsuperuser does) so prompts can be tested."""

import getpass
import sys

from django.core.management import BaseCommand, CommandError

from users_app.services import UserError, no_login_method_left, set_login_method

LOGIN_METHOD_LABELS = {"password": "Password login", "oauth": "OAuth login"}
RECOVERY_HINT = "manage.py enable_password_login or manage.py enable_oauth_login"


class PromptingCommand(BaseCommand):
    stealth_options = ("stdin",)

    def execute(self, *args, **options):
        self.stdin = options.get("stdin", sys.stdin)
        return super().execute(*args, **options)

    def _read_line(self, question: str, secret: bool = False) -> str:
        try:
            if self.stdin.isatty():
                return getpass.getpass(question) if secret else input(question)
            # From a pipe or script: show the question, read one line (end of input = empty answer).
            self.stdout.write(question, ending="")
            self.stdout.flush()
            return self.stdin.readline().rstrip("\r\n")
        except (KeyboardInterrupt, EOFError):
            raise CommandError("Cancelled; nothing was changed.")

    def ask_secret(self, question: str) -> str:
        return self._read_line(question, secret=True)

    def ask_text(self, question: str) -> str:
        return self._read_line(question).strip()

    def ask_yes_no(self, question: str, default: bool) -> bool:
        suffix = " [Y/n] " if default else " [y/N] "
        while True:
            answer = self._read_line(question + suffix).strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.stdout.write("Please answer y or n.")


class LoginMethodCommand(BaseCommand):
    """enable_/disable_password_login and enable_/disable_oauth_login: the escape hatch when a login
    method is broken, usable with no workers running."""

    method = ""
    enabled = True

    def handle(self, *args, **options):
        label = LOGIN_METHOD_LABELS[self.method]
        state = "enabled" if self.enabled else "disabled"
        try:
            changed = set_login_method(self.method, self.enabled)
        except UserError as error:
            raise CommandError(str(error))
        self.stdout.write(f"{label} has been {state}." if changed else f"{label} is already {state}.")
        if not self.enabled and no_login_method_left():
            self.stderr.write(
                "Warning: password and OAuth login are now both disabled, so nobody can log in. "
                f"To allow logins again run {RECOVERY_HINT}."
            )

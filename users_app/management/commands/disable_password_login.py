from users_app.management.cli import LoginMethodCommand


class Command(LoginMethodCommand):
    help = "Disable password (email and password) login (Authentication settings; recorded in the settings history)."
    method = "password"
    enabled = False

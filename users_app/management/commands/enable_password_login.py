from users_app.management.cli import LoginMethodCommand


class Command(LoginMethodCommand):
    help = "Enable password (email and password) login (Authentication settings; recorded in the settings history)."
    method = "password"
    enabled = True

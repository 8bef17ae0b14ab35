from users_app.management.cli import LoginMethodCommand


class Command(LoginMethodCommand):
    help = "Enable OAuth (OpenID Connect) login (Authentication settings; recorded in the settings history)."
    method = "oauth"
    enabled = True

"""Each user's email choices (Immich's user preferences `emailNotifications`)."""

from django.conf import settings
from django.db import models


class EmailPreferences(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="email_preferences")
    enabled = models.BooleanField(default=True, help_text="Album emails (off: none of those below).")
    album_invite = models.BooleanField(default=True, help_text="When I am added to a shared album.")
    album_update = models.BooleanField(default=True, help_text="When photos are added to an album I share.")

    def __str__(self):
        return f"email preferences of {self.user_id}"


class SmtpVerification(models.Model):
    """The SMTP settings that last connected successfully (a fingerprint, never the settings themselves):
    the `email` feature flag is on only while the saved settings are these."""

    fingerprint = models.CharField(max_length=64)
    verified_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"SMTP verified at {self.verified_at}"

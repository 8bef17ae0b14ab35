"""Where emails start: a user created by an administrator with "notify", users added to an album, photos
added to an album."""

from django.dispatch import receiver

from albums_app import signals as album_signals
from users_app.services import user_created

from .services import mail


@receiver(user_created)
def send_welcome(sender, user, password, notify=False, base_url="", **kwargs):
    if notify:
        mail.welcome(user, password, base_url)


@receiver(album_signals.users_added)
def send_album_invites(sender, album, users, by, base_url="", **kwargs):
    for user in users:
        mail.queue_album_invite(album, user, by, base_url)


@receiver(album_signals.assets_added)
def send_album_updates(sender, album, by, base_url="", **kwargs):
    mail.queue_album_update(album, by, base_url)

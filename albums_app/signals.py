"""What other apps hear about albums (the notifications app sends emails on them).

- `users_added`: sent with album=, users= (newly shared with), by= (the owner) after they were added.
- `assets_added`: sent with album=, by= (who added), asset_ids= after assets were added."""

from django.dispatch import Signal

users_added = Signal()
assets_added = Signal()

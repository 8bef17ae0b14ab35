"""What other apps hear about albums (the notifications app sends emails on them).

- `users_added`: sent with album=, users= (newly shared with), by= (the owner) after they were added.
- `assets_added`: sent with album=, by= (who added), asset_ids= after assets were added.
Both carry base_url= (the server's address as the request saw it; may be empty), for links in emails."""

from django.dispatch import Signal

users_added = Signal()
assets_added = Signal()

import hashlib
import secrets
import string

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.utils import timezone

GIB = 1024**3
# Immich's UserAvatarColor.
AVATAR_COLORS = ("primary", "pink", "red", "yellow", "blue", "green", "purple", "orange", "gray", "amber")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_admin=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class Theme(models.TextChoices):
    """The colour scheme of the web pages: the system's (prefers-color-scheme, as Immich) or fixed."""

    SYSTEM = "system", "System"
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"


class User(AbstractBaseUser, PermissionsMixin):
    """Users log in with their email. `is_admin` is Immich's admin flag; it also opens the Django admin."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    storage_label = models.CharField(max_length=100, null=True, blank=True, unique=True)
    quota_size_in_bytes = models.BigIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    quota_usage_in_bytes = models.BigIntegerField(
        default=0, help_text="Size of the user's uploaded originals, recomputed by the nightly quota sync."
    )
    is_admin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    oauth_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    avatar_color = models.CharField(max_length=10, null=True, blank=True,
                                    choices=[(color, color) for color in AVATAR_COLORS])
    should_change_password = models.BooleanField(default=False, help_text="Asked to choose a new password.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Set when deletion is scheduled.")
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    preferences = models.JSONField(default=dict, blank=True, help_text=(
        "The Immich preferences the user changed (group -> field -> value); users_app.preferences merges "
        "them over Immich's defaults."))

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def quota_in_gib(self) -> float | None:
        """The storage quota as Immich shows it (GiB, 1024³ bytes); None = unlimited."""
        return None if self.quota_size_in_bytes is None else self.quota_size_in_bytes / GIB

    @property
    def is_staff(self):
        return self.is_admin

    def has_perm(self, perm, obj=None):
        return self.is_active and self.is_admin

    def has_module_perms(self, app_label):
        return self.is_active and self.is_admin


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """An Immich API key: the secret is shown once at creation; only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, default="API Key")
    key_hash = models.CharField(max_length=64, unique=True)
    permissions = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name

    @classmethod
    def issue(cls, user, name="API Key", permissions=None) -> tuple["ApiKey", str]:
        # Letters and digits only, as Immich's keys: a url-safe token may start with "-", which a command
        # line such as `immich login <url> <key>` takes for an option.
        secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))  # 256 bits
        key = cls.objects.create(
            user=user, name=name, key_hash=hash_api_key(secret), permissions=permissions or ["all"]
        )
        return key, secret


class AuthFailure(models.Model):
    """Failed password attempts of one client address: at one account or shared link (`subject`), or across
    all of them (`subject` empty). users_app.throttle counts them and locks the pair or the address."""

    scope = models.CharField(max_length=20, choices=[("login", "Login"), ("shared-link", "Shared link")])
    subject = models.CharField(max_length=254, blank=True, help_text="Account email or shared link id; empty = "
                               "every account from this address.")
    address = models.CharField(max_length=45)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(default=timezone.now)
    last_failure_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "subject", "address"], name="auth_failure_unique")]
        ordering = ["-last_failure_at"]
        verbose_name = "lock-out"
        verbose_name_plural = "lock-outs"

    def __str__(self):
        return f"{self.scope} {self.subject or '(any account)'} from {self.address}"

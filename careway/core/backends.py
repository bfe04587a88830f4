"""Password sign-in, with the person's agency loaded alongside them.

Every signed-in request reads the agency's session limits (careway/core/middleware.py); loading
it with the user saves a query on each of them.
"""

from django.contrib.auth.backends import ModelBackend

from .models import User


class CarewayBackend(ModelBackend):
    def get_user(self, user_id: int) -> User | None:  # type: ignore[override]
        user = User.objects.select_related("organization").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None

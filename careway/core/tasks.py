"""Background work of the core app, run by whichever queue settings.TASKS names."""

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task

from .models import Notification

# Email is not a safe channel for health information: it says that something happened and
# where to look, never who the patient is or why.
EMAIL_BODY = (
    "{name},\n\n"
    "{subject}. Sign in to Careway and open Notifications to review it.\n\n"
    "You receive this because you supervise the branch concerned."
)


@task()
def email_notification(notification_id: int) -> bool:
    """Email the recipient of one notification; returns whether an email was sent."""
    notice = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notice is None or not notice.recipient.email or not notice.recipient.is_active:
        return False
    send_mail(
        subject=f"Careway: {notice.subject}",
        message=EMAIL_BODY.format(name=notice.recipient.display_name, subject=notice.subject),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[notice.recipient.email],
    )
    return True

"""Channel posts become rows of the messaging outbox (docs/decisions/0004-one-outbox.md).

Posts still queued are copied into ``messaging.Delivery`` as address rows (source ``stream_tick``), due
when they were, so none is lost by the move; sent and failed ones are history and stay with their tick
only until the table is dropped here.
"""

from django.db import migrations


def copy_queued_posts(apps, schema_editor):
    ChannelPost = apps.get_model("streams", "ChannelPost")
    Delivery = apps.get_model("messaging", "Delivery")
    rows = []
    for post in ChannelPost.objects.filter(status=0).select_related("tick__item").iterator():
        item = post.tick.item
        rows.append(
            Delivery(
                channel="telegram",
                address=post.chat_id,
                text=item.text_hi or item.text_en,
                link=item.link,
                media_url=item.image_url,
                language="hi",
                source="stream_tick",
                source_id=post.tick_id,
                attempts=post.attempts,
                next_attempt_at=post.next_attempt_at,
                queued_at=post.next_attempt_at,
                error_reason=post.error[:300],
            )
        )
    Delivery.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0002_delete_tickerlease"),
        ("messaging", "0003_one_outbox"),
    ]

    operations = [
        migrations.RunPython(copy_queued_posts, migrations.RunPython.noop),
        migrations.DeleteModel(name="ChannelPost"),
    ]

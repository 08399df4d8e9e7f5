from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("signing", "0009_renewal_task"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicekey",
            name="endorsement",
            field=models.BinaryField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="servicekey",
            name="retire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="servicekey",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="servicekey",
            name="wrapped_private_key",
            field=models.BinaryField(editable=False, help_text="empty once retired"),
        ),
    ]

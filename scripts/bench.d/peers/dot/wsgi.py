"""WSGI entry of the django-oauth-toolkit peer (gunicorn wsgi:application), and its set-up:

    python wsgi.py setup CLIENTS.json   creates the tables (migrate) and the two clients

BENCH_DOT_PLAIN_SECRETS=1 at set-up saves the clients with hash_client_secret=False (the secret
stored and compared in clear), for the informational "dot-plain" variant.
"""
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from oauth2_provider.models import Application

    with open(sys.argv[2]) as f:
        for record in json.load(f):
            # The secret is given in clear; DOT hashes it when the row is saved (its default).
            plain = os.environ.get("BENCH_DOT_PLAIN_SECRETS") == "1"
            Application.objects.update_or_create(
                client_id=record["client_id"],
                defaults={
                    "name": record["client_id"],
                    "client_secret": record["client_secret"],
                    "client_type": Application.CLIENT_CONFIDENTIAL,
                    "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
                    "hash_client_secret": not plain,
                },
            )
else:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

"""Django REST framework on 127.0.0.1, for cli/tests/real_servers.rs.

    python3 serve.py PORT SQLITE_PATH

Makes a fresh sqlite database at SQLITE_PATH, seeds it with RECORDS records (default 3333),
then serves, one request at a time, until killed. It listens only once the data is there.
INSERT_EVERY=N: every Nth list request inserts one record (at the end of the id ordering)
before it is answered. Endpoints: see pacesite/urls.py.
"""

import os
import sys

port, db = int(sys.argv[1]), sys.argv[2]
os.environ["PACESITE_DB"] = db
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pacesite.settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402

django.setup()

from django.core.servers.basehttp import run  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from pacesite.models import Record  # noqa: E402

if os.path.exists(db):
    os.remove(db)
with connection.schema_editor() as editor:
    editor.create_model(Record)
with transaction.atomic():
    count = int(os.environ.get("RECORDS", "3333"))
    Record.objects.bulk_create(Record(name=f"record {n}") for n in range(1, count + 1))

# Single-threaded: requests are counted (and inserts made) strictly in arrival order.
run("127.0.0.1", port, get_wsgi_application(), ipv6=False, threading=False)

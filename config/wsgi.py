import gc
import os

from django.core.wsgi import get_wsgi_application

from sampark.transports.wsgi import with_webhooks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Provider webhooks skip the site's middleware (sampark/transports/wsgi.py says why).
application = with_webhooks(get_wsgi_application())

# Everything loaded at start-up (Django, the URL conf, every app) lives as long as the process: moved
# out of the collector's sight, a full collection scans only what requests allocate. The pauses of
# full collections over all of it were the slowest status webhooks (bench/webhooks.py).
gc.freeze()

"""The smallest useful settings: no database, no templates, two views."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
INSTALLED_APPS = []
# CsrfViewMiddleware is left out so the example's POST works from curl; a site with browser
# forms should add it (and django.contrib.sessions/auth as needed).
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
# Behind a TLS-terminating proxy: yimmo-wsgi already sets wsgi.url_scheme from
# X-Forwarded-Proto for trusted peers (--forwarded-allow-ips), so request.is_secure() is right
# without SECURE_PROXY_SSL_HEADER.

"""The service's settings, serving bench/floor.py's bare view beside the API (api scenario only)."""

from calendence.settings import *  # noqa: F403 - the service exactly as configured, plus one URL

ROOT_URLCONF = "bench.floor"

"""docker-compose.yml describes the production shape, and every command in it exists here.

No Docker engine runs on the test machines, so the file is checked statically: its
services, their commands against the repository, and its settings against settings.py.
"""

import importlib
import re

import pytest
from django.core.management import get_commands

from tests.support.commands import ROOT, compose_services, procfile_command

SERVICES = compose_services()
APP_SERVICES = {name: service for name, service in SERVICES.items() if "build" in service}


def test_production_shape_has_every_part():
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(SERVICES)
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_commands_refer_to_things_that_exist(name):
    command = APP_SERVICES[name]["command"]
    program = command[0]
    if program == "python":
        assert command[1] == "manage.py" and (ROOT / "manage.py").is_file()
        assert command[2] in get_commands(), f"unknown management command {command[2]}"
    elif program == "gunicorn":
        module, _, attribute = command[1].partition(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    elif program == "celery":
        assert command[1:3] == ["-A", "calendence"]
        assert importlib.import_module("calendence.celery").app.main == "calendence"
        assert command[3] in {"worker", "beat"}
    else:
        pytest.fail(f"{name}: unexpected program {program}")


def test_web_serves_under_gunicorn_and_worker_matches_make_run():
    assert APP_SERVICES["web"]["command"][0] == "gunicorn"
    assert APP_SERVICES["worker"]["command"] == ["celery", *procfile_command("worker")[1:]]
    assert APP_SERVICES["beat"]["command"] == ["celery", *procfile_command("beat")[1:]]


def test_make_run_serves_the_same_app_under_gunicorn_on_loopback():
    web = procfile_command("web")
    assert web[0] == ".venv/bin/gunicorn" and web[1] == APP_SERVICES["web"]["command"][1]
    assert web[web.index("--bind") + 1] == "127.0.0.1:$PORT"


def test_every_environment_variable_is_one_settings_reads():
    source = (ROOT / "calendence/settings.py").read_text()
    read_by_settings = set(re.findall(r'(?:env(?:_bool|_int|_float)?\(|os\.environ\.get\(|env=)\s*"([A-Z_]+)"', source))
    for name, service in APP_SERVICES.items():
        unknown = set(service["environment"]) - read_by_settings
        assert not unknown, f"{name} sets variables settings.py never reads: {unknown}"
    assert APP_SERVICES["web"]["environment"]["CALENDENCE_ENV"] == "production"

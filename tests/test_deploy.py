"""The deployment files say what the README says: a non-root container with a volume running
``safer run``, a cron line and systemd units that start the real command. No Docker engine runs
here, so the Dockerfile is checked as text; systemd's own verifier checks the units where it is
installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from safer import scheduler
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_container_runs_safer_run_as_a_non_root_user_with_a_data_volume() -> None:
    found = _instructions()
    users = [arg for kind, arg in found if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in found
    assert ("ENTRYPOINT", '["safer"]') in found
    assert ("CMD", '["run", "--config", "/data/safer.toml"]') in found
    health = next(arg for kind, arg in found if kind == "HEALTHCHECK")
    assert '"safer", "status", "--check"' in health
    copied = {arg.split()[0] for kind, arg in found if kind == "COPY"}
    # Every package the console script imports is in the image.
    assert {"safer", "pipelines", "checks", "indicators", "alerts"} <= copied
    assert "scheduler.py" in next(arg for kind, arg in found if kind == "COPY")


def test_the_commands_the_deployment_files_run_are_real() -> None:
    parser = scheduler._parser()
    lines = [
        *(DEPLOY / "crontab").read_text(encoding="utf-8").splitlines(),
        *(DEPLOY / "safer.service").read_text(encoding="utf-8").splitlines(),
        *(DEPLOY / "safer-schedule.service").read_text(encoding="utf-8").splitlines(),
    ]
    commands = [m.group(1) for line in lines if (m := re.search(r"bin/safer (.+?)(?: >>|$)", line))]
    assert len(commands) == 3
    for command in commands:
        parser.parse_args(command.split())  # exits 2 on an unknown command or option


def test_the_timer_fires_daily_in_uk_time_and_catches_up_after_downtime() -> None:
    timer = (DEPLOY / "safer.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-* 07:00:00 Europe/London" in timer
    assert "Persistent=true" in timer
    service = (DEPLOY / "safer.service").read_text(encoding="utf-8")
    assert "Type=oneshot" in service and "User=safer" in service
    assert "SuccessExitStatus=3 4 5 6" in service
    # The password comes from a credential file; no line sets it.
    assert not re.search(r"^Environment=SAFER_SMTP_PASSWORD=", service, re.MULTILINE)
    assert "Environment=SAFER_SMTP_PASSWORD_FILE=%d/smtp-password" in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    for name in ("safer.service", "safer.timer", "safer-schedule.service"):
        shutil.copy(DEPLOY / name, tmp_path / name)
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert problems == []

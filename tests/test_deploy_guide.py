"""docs/deploy.md and what it installs agree: deploy/drill.sh runs exactly the guide's blocks
(CI runs the drill on a fresh machine, .ci/run); these checks catch a broken guide in seconds.
"""

from __future__ import annotations

import re
import subprocess

from tests.services import REPOSITORY

GUIDE = REPOSITORY / "docs" / "deploy.md"


def _steps() -> str:
    result = subprocess.run(
        ["bash", str(REPOSITORY / "deploy" / "drill.sh"), "--print-steps"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_the_drill_runs_every_shell_block_of_the_guide_except_those_marked_skip():
    guide = GUIDE.read_text()
    blocks = re.findall(r"(<!-- drill: skip[^>]*-->\n)?```sh\n(.*?)```", guide, flags=re.DOTALL)
    steps = _steps()
    run = [body for skip, body in blocks if not skip]
    skipped = [body for skip, body in blocks if skip]
    assert len(run) >= 10
    for body in run:
        assert body in steps
    for body in skipped:
        assert body not in steps
    assert any("certbot --nginx" in body for body in skipped)  # documented, not run


def _position(steps: str, text: str) -> int:
    assert text in steps, text
    return steps.index(text)


def test_the_guide_creates_what_is_needed_before_it_is_used():
    steps = _steps()
    assert _position(steps, "CREATE DATABASE pressroom OWNER pressroom") < _position(
        steps, "pressroom migrate --no-input"
    )
    assert _position(steps, "useradd --system") < _position(steps, 'git clone "$PRESSROOM')
    assert _position(steps, "chmod 0640 /etc/pressroom/pressroom.env") < _position(
        steps, "pressroom migrate --no-input"
    )
    # Redis without persistence.
    assert 'save ""' in steps
    assert "appendonly no" in steps
    assert "systemd-analyze verify" in steps
    assert "scripts/find-python" in steps
    # Upgrade restarts the app servers one at a time.
    assert re.search(
        r'for port in 8001 8002; do\n\s+systemctl restart "pressroom-serve@\$port"', steps
    )


def test_the_systemd_units_and_nginx_name_only_what_the_guide_creates():
    steps = _steps()
    for unit in (REPOSITORY / "deploy" / "systemd").glob("*.service"):
        text = unit.read_text()
        assert "User=pressroom" in text
        assert "WorkingDirectory=/srv/pressroom\n" in text
        assert "EnvironmentFile=/etc/pressroom/pressroom.env\n" in text
        assert "ReadWritePaths=/var/lib/pressroom\n" in text
        assert "ExecStart=/srv/pressroom/.venv/bin/pressroom " in text
    assert 'git clone "$PRESSROOM_REPOSITORY" /srv/pressroom' in steps
    assert "install -d -o pressroom -g pressroom -m 0750 /var/lib/pressroom" in steps
    assert "PRESSROOM_VAR_DIR=/var/lib/pressroom" in steps
    nginx = (REPOSITORY / "deploy" / "nginx" / "pressroom.conf").read_text()
    # STATIC_ROOT's default, where the guide's collectstatic writes.
    assert "alias /srv/pressroom/staticfiles/;" in nginx
    assert "server 127.0.0.1:8001 max_fails=0;" in nginx
    assert "proxy_next_upstream error timeout" in nginx

"""Fixtures of the real-browser suite: the end-to-end suite's server (tests/e2e/conftest.py: a demo
kit and the REAL `strongroom serve` binary on free ports) driven by headless Chromium through
Selenium and Debian's chromium-driver.

TLS trust: Chromium trusts the kit's test CA through a throwaway NSS database (certutil, from
libnss3-tools) in a temporary $HOME given to chromedriver/Chromium only — no certificate errors
are ignored. Only when certutil is missing does the suite fall back to
`--ignore-certificate-errors` for this throwaway profile (said in the summary).

Without chromium + chromedriver (or selenium) every test here is SKIPPED with the reason;
`scripts/browser-deps.sh` (as root) installs them.

Environment: CHROMIUM_BIN / CHROMEDRIVER_BIN override the browser and driver; STRONGROOM_BIN and
STRONGROOM_E2E_NO_BUILD as in tests/e2e. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
E2E = REPO / "tests" / "e2e"
ARTIFACTS = REPO / "test-artifacts" / "browser"

if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

# The e2e conftest, loaded under its own name (both files are called conftest.py).
_spec = importlib.util.spec_from_file_location("strongroom_e2e_conftest", E2E / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
sys.modules["strongroom_e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

from fapi_client import pem_bytes  # noqa: E402  (after the sys.path change)

# Re-exported fixtures: the binary, a fresh demo kit on free ports, the server serving it.
binary = e2e.binary
kit = e2e.kit
srv = e2e.srv
server = e2e.server

# When tests/e2e and tests/browser are collected in one run, `from conftest import make_cert`
# in tests/e2e may resolve to this module (both are "conftest"): offer the same helpers.
for _name, _value in vars(e2e).items():
    if (not _name.startswith("_") and not _name.startswith("pytest_") and _name not in globals()
            and not hasattr(_value, "_fixture_function_marker") and type(_value).__name__ != "FixtureFunctionDefinition"):
        globals()[_name] = _value

NOTES: list[str] = []
STARTED = time.time()


@pytest.fixture(scope="session")
def demo_clients(srv, tmp_path_factory):
    """The kit's demo clients (demo-fapi-1, demo-fapi-2, demo-plain) as tests/e2e drives them."""
    return e2e.Clients(srv, tmp_path_factory.mktemp("client-material"))


# ----------------------------------------------------------------------------------------------
# Is there a browser?
# ----------------------------------------------------------------------------------------------

def _first_executable(*candidates: str | None) -> str | None:
    for c in candidates:
        if not c:
            continue
        path = c if os.path.isabs(c) else shutil.which(c)
        if path and os.access(path, os.X_OK):
            return path
    return None


def chromium_binary() -> str | None:
    if os.environ.get("CHROMIUM_BIN"):  # when given, only that one
        return _first_executable(os.environ["CHROMIUM_BIN"])
    # The real binary rather than Debian's /usr/bin/chromium wrapper script, when present.
    return _first_executable("/usr/lib/chromium/chromium", "chromium", "chromium-browser")


def chromedriver_binary() -> str | None:
    if os.environ.get("CHROMEDRIVER_BIN"):
        return _first_executable(os.environ["CHROMEDRIVER_BIN"])
    return _first_executable("chromedriver", "/usr/lib/chromium/chromedriver")


def missing_browser_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r tests/browser/requirements.txt, or scripts/browser-deps.sh)"
    if chromium_binary() is None:
        if os.environ.get("CHROMIUM_BIN"):
            return f"CHROMIUM_BIN={os.environ['CHROMIUM_BIN']} is not executable"
        return "chromium is not installed (scripts/browser-deps.sh as root: apt-get install chromium chromium-driver)"
    if chromedriver_binary() is None:
        if os.environ.get("CHROMEDRIVER_BIN"):
            return f"CHROMEDRIVER_BIN={os.environ['CHROMEDRIVER_BIN']} is not executable"
        return "chromedriver is not installed (scripts/browser-deps.sh as root: apt-get install chromium-driver)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = missing_browser_reason()
    if reason is None:
        return
    mark = pytest.mark.skip(reason=reason)
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(mark)


def pytest_terminal_summary(terminalreporter):
    if e2e.OBSERVATIONS:  # tests/e2e's observe() calls that landed in the copy loaded here
        e2e.pytest_terminal_summary(terminalreporter)
    lines = list(NOTES)
    if ARTIFACTS.is_dir() and any(p.stat().st_mtime >= STARTED for p in ARTIFACTS.glob("*.png")):
        lines.append(f"screenshots: {ARTIFACTS.relative_to(REPO)}/*.png")
    if lines:
        terminalreporter.section("strongroom browser tests")
        for line in lines:
            terminalreporter.write_line(line)


# ----------------------------------------------------------------------------------------------
# Browser
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_home(kit, tmp_path_factory):
    """A throwaway $HOME whose NSS database (~/.pki/nssdb) trusts the kit's test CA for TLS
    servers; None when certutil is unavailable (then certificate errors are ignored instead)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        NOTES.append("certutil not found (libnss3-tools): Chromium ran with --ignore-certificate-errors")
        return None
    home = tmp_path_factory.mktemp("chromium-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    ca = home / "strongroom-test-ca.pem"
    ca.write_bytes(pem_bytes(kit["dir"] / "ca.pem"))  # without the kit's explanatory header
    for cmd in ([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"],
                [certutil, "-d", f"sql:{nssdb}", "-A", "-n", "strongroom-test-ca", "-t", "C,,", "-i", str(ca)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}")
    NOTES.append("TLS: Chromium trusted the demo kit's CA through a throwaway NSS database (no ignored certificate errors)")
    return home


@pytest.fixture
def driver(browser_home, tmp_path, request):
    """A fresh headless Chromium (own profile: no cookies shared between tests), quit afterwards.
    A failing test leaves a screenshot named after it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    for arg in ["--headless=new", "--window-size=1280,900", "--lang=en-GB", "--no-first-run",
                "--no-default-browser-check", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(arg)
    if os.geteuid() == 0:  # Chromium refuses to start its sandbox as root (CI containers)
        options.add_argument("--no-sandbox")
    if browser_home is None:
        options.add_argument("--ignore-certificate-errors")  # throwaway test profile only
    env = dict(os.environ)
    if browser_home is not None:
        env["HOME"] = str(browser_home)
    service = Service(executable_path=chromedriver_binary(), env=env, log_output=str(tmp_path / "chromedriver.log"))
    d = webdriver.Chrome(options=options, service=service)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                d.save_screenshot(str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
            except Exception:  # the browser may be gone
                pass
        d.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep

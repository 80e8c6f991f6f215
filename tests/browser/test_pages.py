"""A person in a real browser (headless Chromium) going through Strongroom's login, consent, grants
and error pages, against the real server binary. Tokens are then redeemed with requests, as the
client's back end would. Every step leaves a screenshot in test-artifacts/browser/."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

pytest.importorskip("selenium", exc_type=ImportError, reason="selenium is not installed (pip install -r tests/browser/requirements.txt)")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from fapi_client import (ACR_SILVER, bearer, cert_thumbprint, code_params, fapi_params, split_redirect,  # noqa: E402
                         verify_id_token)

USERNAME, PASSWORD = "alice", "wonderland-demo"
PLAIN_SCOPE = "openid profile email offline_access"
# The scopes' descriptions (ServiceSettings defaults and the demo kit's FAPI scopes).
DESCRIPTIONS = {
    "openid": "Sign you in",
    "profile": "Your name and profile",
    "email": "Your email address",
    "offline_access": "Stay connected when you are away",
    "accounts": "Read your account balances and transactions",
    "payments": "Make payments from your accounts",
}
WAIT = 15
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def shot(driver, name: str) -> str:
    """A full-page PNG screenshot in test-artifacts/browser/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(data["data"]))
    return str(path)


def authorize_url(server, params: dict) -> str:
    return server.metadata["authorization_endpoint"] + "?" + urlencode(params)


def wait_until(driver, predicate, what: str):
    """Polls predicate(driver); elements going stale while a page navigates just mean "not yet"."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: predicate(d), message=f"timed out waiting for {what}; at {driver.current_url}")


def wait_for_page(driver, title_part: str):
    wait_until(driver, lambda d: title_part in d.title, f"a page titled '{title_part}…'")


def wait_for_redirect(driver, redirect_uri: str) -> tuple[str, dict]:
    """Waits until the browser is at the client's redirect URI; (mode, params) read from current_url."""
    wait_until(driver, lambda d: d.current_url.startswith(redirect_uri), f"the redirect to {redirect_uri}")
    mode, params, _ = split_redirect(driver.current_url)
    return mode, params


def text_content(driver, css: str) -> str:
    """The DOM text of an element, whitespace collapsed (independent of CSS text-transform)."""
    el = driver.find_element(By.CSS_SELECTOR, css)
    return " ".join((el.get_attribute("textContent") or "").split())


def sign_in(driver, username: str = USERNAME, password: str = PASSWORD) -> None:
    user = driver.find_element(By.ID, "username")
    user.clear()
    user.send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action$='/login'] button[type=submit]").click()


def active_id(driver) -> str:
    el = driver.switch_to.active_element
    return el.get_attribute("id") or el.tag_name


def check_page_basics(driver, page: str) -> None:
    """<html lang>, exactly one <h1>, and an accessible name on every visible input and button."""
    lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
    assert lang and re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*", lang), f"{page}: <html lang={lang!r}>"
    h1s = driver.find_elements(By.TAG_NAME, "h1")
    assert len(h1s) == 1 and h1s[0].text.strip(), f"{page}: expected one non-empty <h1>, found {[h.text for h in h1s]}"
    unnamed = []
    for el in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), button, select, textarea, a[href]"):
        if not el.is_displayed():
            continue
        if not (el.accessible_name or "").strip():
            unnamed.append(el.get_attribute("outerHTML")[:160])
    assert not unnamed, f"{page}: elements without an accessible name: {unnamed}"


def check_login_page(driver, client_name: str) -> None:
    assert driver.title.startswith("Sign in"), f"login page title {driver.title!r}"
    assert text_content(driver, "h1") == "Sign in"
    assert client_name in text_content(driver, "p.lead"), "the login page does not name the client"
    labels = driver.find_elements(By.CSS_SELECTOR, "label")
    assert labels, "no <label> on the login page"
    for label in labels:
        target = label.get_attribute("for")
        assert target, f"label without for=: {label.get_attribute('outerHTML')}"
        inputs = driver.find_elements(By.ID, target)
        assert len(inputs) == 1 and inputs[0].tag_name == "input", f"label for={target!r} points at {len(inputs)} inputs"
    assert {label.get_attribute("for") for label in labels} >= {"username", "password"}
    assert driver.find_element(By.ID, "username").accessible_name == "Username"
    assert driver.find_element(By.ID, "password").accessible_name == "Password"
    assert driver.find_element(By.ID, "password").get_attribute("type") == "password"
    assert driver.find_element(By.ID, "username").get_attribute("autofocus") is not None, "username has no autofocus"
    assert active_id(driver) == "username", f"focus is on {active_id(driver)!r}, not the username field"
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert not alert.is_displayed(), f"an error is shown before any attempt: {alert.text!r}"


def check_consent_page(driver, client_name: str, client_id: str, scopes: list[str]) -> None:
    assert "Review access" in driver.title, driver.title
    assert text_content(driver, "h1") == "Allow access to your account?"
    client_box = text_content(driver, ".client")
    assert client_name in client_box, f"client name missing from the consent page: {client_box!r}"
    assert client_id in client_box
    assert f"Signed in as {USERNAME}" in text_content(driver, "p.lead")
    items = [" ".join((li.get_attribute("textContent") or "").split()) for li in driver.find_elements(By.CSS_SELECTOR, "ul.scopes li")]
    assert len(items) == len(scopes), f"scopes listed {items}, requested {scopes}"
    for scope in scopes:
        assert any(DESCRIPTIONS[scope] in item for item in items), f"no description for scope {scope!r} in {items}"
    buttons = {b.text.strip(): b for b in driver.find_elements(By.CSS_SELECTOR, "form[action$='/consent'] button")}
    assert set(buttons) == {"Approve", "Deny"}, f"consent buttons {list(buttons)}"
    assert buttons["Approve"].get_attribute("value") == "approve" and buttons["Deny"].get_attribute("value") == "deny"
    check_page_basics(driver, "consent page")


def click_decision(driver, label: str) -> None:
    driver.find_element(By.XPATH, f"//form[contains(@action,'/consent')]//button[normalize-space()='{label}']").click()


def plain_flow_to_consent(driver, server, srv, client, name: str) -> tuple[dict, str | None]:
    """Opens /authorize for demo-plain (prompt=consent so an earlier grant does not skip the page),
    signs in and stops on the consent page."""
    params, verifier = code_params(client, PLAIN_SCOPE, prompt="consent")
    driver.get(authorize_url(server, params))
    wait_for_page(driver, "Sign in")
    check_login_page(driver, client_name_of(srv, client.client_id))
    sign_in(driver)
    wait_for_page(driver, "Review access")
    shot(driver, f"{name}-consent")
    return params, verifier


def client_name_of(srv, client_id: str) -> str:
    """The client_name the kit's configuration gives the client (what the pages must show)."""
    return srv.client_config(client_id)["client_name"]


# ----------------------------------------------------------------------------------------------
# 1. Code flow: login (with a wrong password first), consent, approve, tokens, userinfo
# ----------------------------------------------------------------------------------------------

def test_code_flow_login_consent_approve(driver, server, srv, demo_clients):
    client = demo_clients.plain
    params, verifier = code_params(client, PLAIN_SCOPE, prompt="consent")
    driver.get(authorize_url(server, params))
    wait_for_page(driver, "Sign in")
    check_login_page(driver, client_name_of(srv, client.client_id))
    check_page_basics(driver, "login page")
    shot(driver, "01-login")

    # A wrong password: still on the login page, the message in role=alert, tied to the field.
    sign_in(driver, USERNAME, "not-the-password")
    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]").is_displayed(), "the login error")
    assert driver.title.startswith("Sign in")
    assert urlsplit(driver.current_url).netloc == urlsplit(server.issuer).netloc
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.text.strip() == "The username or password is not right.", alert.text
    described = (driver.find_element(By.ID, "username").get_attribute("aria-describedby") or "").split()
    assert alert.get_attribute("id") in described, "the error message is not tied to the username field (aria-describedby)"
    assert driver.find_element(By.ID, "password").get_attribute("value") == "", "the wrong password was echoed back"
    assert driver.find_element(By.ID, "username").get_attribute("value") == USERNAME, "the username must be kept after a failed sign-in"
    assert active_id(driver) == "password", "after a failed sign-in the focus belongs on the password field"
    shot(driver, "02-login-wrong-password")

    sign_in(driver)
    wait_for_page(driver, "Review access")
    check_consent_page(driver, client_name_of(srv, client.client_id), client.client_id, PLAIN_SCOPE.split())
    shot(driver, "03-consent-plain")
    driver.set_window_size(390, 844)  # a phone-sized viewport: nothing may overflow horizontally
    overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    shot(driver, "03b-consent-plain-narrow")
    assert overflow <= 0, f"the consent page scrolls horizontally by {overflow}px at 390px wide"
    driver.set_window_size(1280, 900)

    click_decision(driver, "Approve")
    mode, res = wait_for_redirect(driver, client.redirect_uri)
    shot(driver, "04-callback-plain")
    assert mode == "query", driver.current_url
    assert res.get("state") == params["state"], f"state {res.get('state')!r} != {params['state']!r}"
    assert res.get("code"), f"no code in {driver.current_url}"
    assert "error" not in res, res

    r = client.redeem(res["code"], verifier, client.redirect_uri)
    assert r.status_code == 200, f"token: HTTP {r.status_code} {r.text[:400]}"
    tokens = r.json()
    assert set(tokens["scope"].split()) == set(PLAIN_SCOPE.split()), tokens["scope"]
    assert tokens.get("refresh_token"), "offline_access granted but no refresh token"
    claims = verify_id_token(tokens["id_token"], server, client.client_id, nonce=params["nonce"], access_token=tokens["access_token"])

    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, f"userinfo: HTTP {r.status_code} {r.text[:300]}"
    info = r.json()
    assert info["sub"] == claims["sub"]
    assert info.get("name") == "Alice Liddell" and info.get("email") == "alice@example.com", info


# ----------------------------------------------------------------------------------------------
# 2. Deny
# ----------------------------------------------------------------------------------------------

def test_deny_redirects_with_access_denied(driver, server, srv, demo_clients):
    client = demo_clients.plain
    params, _ = plain_flow_to_consent(driver, server, srv, client, "05-deny")
    click_decision(driver, "Deny")
    mode, res = wait_for_redirect(driver, client.redirect_uri)
    shot(driver, "06-callback-denied")
    assert res.get("error") == "access_denied", f"after Deny: {driver.current_url}"
    assert res.get("state") == params["state"], f"state {res.get('state')!r} != {params['state']!r}"
    assert "code" not in res, "a code was issued although the user denied"


# ----------------------------------------------------------------------------------------------
# 3. FAPI 1.0 Advanced: PAR over mTLS, the browser opens request_uri, hybrid response
# ----------------------------------------------------------------------------------------------

def test_fapi_advanced_par_in_browser(driver, server, srv, demo_clients):
    client = demo_clients.fapi1
    params, verifier = fapi_params(client, scope="openid payments", prompt="consent")
    ro = client.request_object(params)
    r = client.par({"request": ro})  # private_key_jwt assertion, over the mutual-TLS alias
    assert r.status_code == 201, f"PAR: HTTP {r.status_code} {r.text[:400]}"
    request_uri = r.json()["request_uri"]

    driver.get(authorize_url(server, {"client_id": client.client_id, "request_uri": request_uri}))
    wait_for_page(driver, "Sign in")
    check_login_page(driver, client_name_of(srv, client.client_id))
    assert "FAPI 1.0 Advanced".lower() in text_content(driver, "p.note").lower(), \
        f"login page does not name the profile: {text_content(driver, 'p.note')!r}"
    shot(driver, "07-login-fapi")
    sign_in(driver)
    wait_for_page(driver, "Review access")
    check_consent_page(driver, client_name_of(srv, client.client_id), client.client_id, ["openid", "payments"])
    assert "Make payments from your accounts" in text_content(driver, "ul.scopes")
    badge = text_content(driver, ".client .badge")
    assert badge.lower() == "fapi 1.0 advanced", f"profile badge {badge!r}"
    claims_box = text_content(driver, "ul[aria-labelledby=claims-heading]")
    assert "acr" in claims_box and "(required)" in claims_box, f"requested claims: {claims_box!r}"
    shot(driver, "08-consent-fapi")

    click_decision(driver, "Approve")
    mode, res = wait_for_redirect(driver, client.redirect_uri)
    shot(driver, "09-callback-fapi")
    assert mode == "fragment", f"hybrid response not in the fragment: {driver.current_url}"
    assert res.get("state") == params["state"]
    assert res.get("code") and res.get("id_token"), res
    assert res.get("iss") in (None, server.issuer), res.get("iss")
    front = verify_id_token(res["id_token"], server, client.client_id, nonce=params["nonce"], code=res["code"],
                            state=params["state"], expected_alg="PS256", require_c_hash=True, require_s_hash=True)
    assert front.get("acr") == ACR_SILVER, front.get("acr")

    r = client.redeem(res["code"], verifier, client.redirect_uri)  # over mTLS with client1's certificate
    assert r.status_code == 200, f"token: HTTP {r.status_code} {r.text[:400]}"
    tokens = r.json()
    assert set(tokens["scope"].split()) == {"openid", "payments"}
    info = client.introspect(tokens["access_token"])
    assert info.get("cnf", {}).get("x5t#S256") == cert_thumbprint(client.cert[0]), f"not certificate-bound: {info}"
    r = server.get("/api/accounts", headers=bearer(tokens["access_token"]), cert=client.cert)
    assert r.status_code == 200, f"/api/accounts: HTTP {r.status_code} {r.text[:300]}"


# ----------------------------------------------------------------------------------------------
# 4. Grants page: the consent is listed; revoking it kills the tokens
# ----------------------------------------------------------------------------------------------

def grant_sections(driver, client_id: str):
    return [s for s in driver.find_elements(By.CSS_SELECTOR, "section.grant")
            if client_id in (s.find_element(By.CSS_SELECTOR, ".when code").get_attribute("textContent") or "")]


def test_grants_page_lists_and_revokes(driver, server, srv, demo_clients):
    client = demo_clients.plain
    params, verifier = plain_flow_to_consent(driver, server, srv, client, "10-grants")
    click_decision(driver, "Approve")
    _, res = wait_for_redirect(driver, client.redirect_uri)
    r = client.redeem(res["code"], verifier, client.redirect_uri)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert client.introspect(tokens["access_token"])["active"] is True

    driver.get(server.url("/grants"))
    wait_for_page(driver, "Connected applications")
    check_page_basics(driver, "grants page")
    assert f"Signed in as {USERNAME}" in text_content(driver, "p.lead")
    sections = grant_sections(driver, client.client_id)
    assert sections, "the grants page does not list demo-plain"
    section = sections[0]
    heading = section.find_element(By.CSS_SELECTOR, "h2").text
    assert heading == client_name_of(srv, client.client_id), heading
    listed = section.find_element(By.CSS_SELECTOR, "ul.scopes").get_attribute("textContent")
    for scope in PLAIN_SCOPE.split():
        assert DESCRIPTIONS[scope] in listed, f"grant does not show {scope!r}: {' '.join(listed.split())}"
    button = section.find_element(By.CSS_SELECTOR, "button.danger")
    assert button.accessible_name == f"Revoke access for {heading}", button.accessible_name
    shot(driver, "11-grants")

    # Revoke every demo-plain grant (an earlier test may have left one too).
    for _ in range(5):
        sections = grant_sections(driver, client.client_id)
        if not sections:
            break
        before = len(sections)
        button = sections[0].find_element(By.CSS_SELECTOR, "button.danger")
        button.click()
        WebDriverWait(driver, WAIT).until(EC.staleness_of(button), message="the revoke form was not submitted")
        wait_until(driver, lambda d: d.execute_script("return document.readyState") == "complete"
                   and ("Connected applications" in d.title or "Request not completed" in d.title), "the page after revoking")
        assert len(grant_sections(driver, client.client_id)) < before or "Request not completed" in driver.title
        assert "Connected applications" in driver.title, f"revoke failed: {driver.title}: {text_content(driver, 'main')}"
    assert not grant_sections(driver, client.client_id), "demo-plain still listed after revoking"
    assert urlsplit(driver.current_url).path.endswith("/grants"), driver.current_url
    shot(driver, "12-grants-after-revoke")

    r = client.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400 and r.json().get("error") == "invalid_grant", \
        f"refresh token after revoking the grant: HTTP {r.status_code} {r.text[:300]}"
    assert client.introspect(tokens["access_token"])["active"] is False, "access token still active after revoking the grant"
    r = server.get(server.metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"]))
    assert r.status_code == 401, f"userinfo with a token of a revoked grant: HTTP {r.status_code}"


# ----------------------------------------------------------------------------------------------
# 5. Keyboard and accessibility smoke test of the login page
# ----------------------------------------------------------------------------------------------

def test_login_keyboard_order_and_names(driver, server, demo_clients):
    client = demo_clients.plain
    params, _ = code_params(client, PLAIN_SCOPE, prompt="consent")
    driver.get(authorize_url(server, params))
    wait_for_page(driver, "Sign in")
    check_page_basics(driver, "login page")
    assert active_id(driver) == "username"

    order = []
    for _ in range(2):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        el = driver.switch_to.active_element
        order.append(el.get_attribute("id") or f"{el.tag_name}:{el.text.strip()}")
    assert order == ["password", "button:Sign in"], f"Tab order from the username field: {order}"
    focused = driver.switch_to.active_element
    outline = focused.value_of_css_property("outline-style"), focused.value_of_css_property("outline-width")
    assert outline[0] != "none" and outline[1] not in ("0px", ""), f"no visible focus ring on the Sign in button: {outline}"
    shot(driver, "13-login-keyboard-focus")

    # Shift+Tab goes back; Enter in the password field submits the form.
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert active_id(driver) == "password"
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert active_id(driver) == "username"
    ActionChains(driver).send_keys(USERNAME, Keys.TAB, PASSWORD, Keys.ENTER).perform()
    wait_for_page(driver, "Review access")
    # Keyboard on the consent page: Approve then Deny are reachable by Tab.
    buttons = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "form[action$='/consent'] button")]
    assert buttons == ["Approve", "Deny"], buttons


# ----------------------------------------------------------------------------------------------
# 6. Error page: an unregistered redirect URI is never redirected to
# ----------------------------------------------------------------------------------------------

def test_unregistered_redirect_uri_shows_error_page(driver, server, demo_clients):
    client = demo_clients.plain
    params, _ = code_params(client, "openid", redirect_uri="https://attacker.example/callback")
    driver.get(authorize_url(server, params))
    wait_for_page(driver, "Request not completed")
    shot(driver, "14-error-redirect-uri")
    assert urlsplit(driver.current_url).netloc == urlsplit(server.issuer).netloc, f"redirected to {driver.current_url}"
    assert urlsplit(driver.current_url).path.endswith("/authorize"), driver.current_url
    check_page_basics(driver, "error page")
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.is_displayed() and "not been sent back" in alert.text, alert.text
    facts = {dt.text.strip(): dd for dt, dd in zip(driver.find_elements(By.CSS_SELECTOR, "dl.facts dt"),
                                                    driver.find_elements(By.CSS_SELECTOR, "dl.facts dd"))}
    assert "Error" in facts, f"no error code on the page: {list(facts)}"
    code = facts["Error"].text.strip()
    assert code == "invalid_request", f"error code shown: {code!r}"
    assert facts["Error"].is_displayed()

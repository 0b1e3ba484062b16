"""From "I want to try a new prompt" to a promoted winner without leaving the browser
(issue 24, docs/console.md): create a function, clone its variant and change the template,
start a campaign with both, see traffic reach the new variant on the inferences page, read the
decision and promote the winner; deleting a variant a campaign uses is refused with the reason.

It works on a function the test creates, so the demo config the other console tests read stays
as it is."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import PageWatch
from tests.browser.test_console import admin, reloaded, sign_in, wait_for
from tests.support.gateway import Gateway

FUNCTION = f"greeter-{uuid.uuid4().hex[:6]}"


def current_function(gateway: Gateway, key: str) -> dict[str, Any]:
    with admin(gateway, key) as client:
        response = client.get("/admin/config")
        assert response.status_code == 200, response.text
        body = response.json()
    document = body.get("document", body)
    function: dict[str, Any] = document["functions"][FUNCTION]
    return function


def greet(client: httpx.Client, session: str) -> httpx.Response:
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": FUNCTION,
            "messages": [{"role": "user", "content": "hello"}],
            "system_prompt_args": {"customer_name": "Ada"},
            "session_id": session,
        },
    )
    assert response.status_code == 200, response.text
    return response


def test_a_new_prompt_goes_from_a_cloned_variant_to_a_promoted_winner(
    page: tuple[Any, PageWatch], console_gateway: Gateway, admin_key: str, screenshots: Path
) -> None:
    browser_page, watch = page
    sign_in(browser_page, console_gateway, admin_key, "/ui/functions")

    # A new function from a form.
    browser_page.get_by_role("link", name="New function").click()
    browser_page.get_by_label("Name", exact=True).fill(FUNCTION)
    browser_page.get_by_label("Model").select_option("gpt-4o-mini")
    browser_page.get_by_label("Args schema").fill(
        '{"type": "object", "properties": {"customer_name": {"type": "string"}}}'
    )
    browser_page.get_by_label("System template").fill("Greet {{ customer_name }}.")
    browser_page.get_by_role("button", name="Create function").click()
    browser_page.wait_for_load_state()
    assert f"Created {FUNCTION}" in browser_page.get_by_role("status").inner_text()

    # Clone its variant, change the template, preview it with sample args, save.
    browser_page.get_by_role("button", name="New variant").click()
    browser_page.wait_for_load_state()
    assert browser_page.get_by_label("Weight").input_value() == "0"
    browser_page.get_by_label("Name", exact=True).fill("warm")
    browser_page.get_by_label("System template").fill("Warmly greet {{ customer_name }} by name.")
    browser_page.get_by_label("Sample args").fill('{"customer_name": "Grace"}')
    browser_page.get_by_role("button", name="Preview").click()
    browser_page.wait_for_load_state()
    preview = browser_page.get_by_role("region", name="Preview of the new variant")
    assert preview.inner_text().endswith("Warmly greet Grace by name.")
    browser_page.screenshot(path=str(screenshots / "new-variant.png"), full_page=True)
    browser_page.get_by_role("button", name="Create variant").click()
    browser_page.wait_for_load_state()
    assert "Created variant warm (weight 0)" in browser_page.get_by_role("status").inner_text()
    variants = current_function(console_gateway, admin_key)["variants"]
    assert variants["warm"]["system_template"] == "Warmly greet {{ customer_name }} by name."
    assert variants["warm"]["weight"] == 0 and variants["warm"]["model"] == "gpt-4o-mini"

    # A campaign of both, started now.
    browser_page.get_by_role("link", name="New campaign").click()
    browser_page.get_by_label("Name", exact=True).fill("greet-test")
    browser_page.get_by_role("checkbox", name="baseline").check()
    browser_page.get_by_role("checkbox", name="warm").check()
    browser_page.get_by_label("Metric").select_option("thumbs_up")
    browser_page.get_by_label("Description").fill("Does a warmer greeting earn more thumbs up?")
    browser_page.screenshot(path=str(screenshots / "new-campaign.png"), full_page=True)
    browser_page.get_by_role("button", name="Save campaign").click()
    browser_page.wait_for_load_state()
    assert "Campaign greet-test saved (active)" in browser_page.get_by_role("status").inner_text()
    campaign = current_function(console_gateway, admin_key)["campaigns"]["greet-test"]
    assert campaign["variants"] == {"baseline": 1.0, "warm": 1.0}
    assert campaign["status"] == "active" and campaign["metric"] == "thumbs_up"

    # Traffic reaches the new variant; 90% thumbs up for warm, 10% for baseline: warm wins.
    served: dict[str, list[str]] = {"baseline": [], "warm": []}
    with admin(console_gateway, admin_key) as client:
        for _ in range(160):
            response = greet(client, str(uuid.uuid4()))
            served[response.headers["x-switchyard-variant"]].append(response.json()["id"])
        assert len(served["warm"]) >= 40 and len(served["baseline"]) >= 40, served
        for variant, ids in served.items():
            for i, inference_id in enumerate(ids):
                liked = (i % 10 != 0) if variant == "warm" else (i % 10 == 0)
                feedback = {
                    "metric_name": "thumbs_up",
                    "inference_id": inference_id,
                    "value": liked,
                }
                assert client.post("/v1/feedback", json=feedback).status_code == 200
    browser_page.goto(f"{console_gateway.url}/ui/inferences?function={FUNCTION}&variant=warm")
    wait_for(lambda: f"{FUNCTION} / warm" in reloaded(browser_page), timeout=30)

    # The decision names the winner; promote it from the campaign page.
    def decided() -> bool:
        browser_page.goto(
            f"{console_gateway.url}/ui/campaigns/greet-test?function={FUNCTION}&metric=thumbs_up"
        )
        return browser_page.get_by_role("button", name="Promote warm").count() == 1

    wait_for(decided, timeout=60)
    browser_page.screenshot(path=str(screenshots / "promote-winner.png"), full_page=True)
    watch.accept_confirm = True
    browser_page.get_by_role("button", name="Promote warm").click()
    browser_page.wait_for_load_state()
    assert "Promoted warm" in browser_page.get_by_role("status").inner_text()
    function = current_function(console_gateway, admin_key)
    assert function["campaigns"]["greet-test"]["status"] == "ended"
    assert function["variants"]["warm"]["weight"] == 1.0
    assert function["variants"]["baseline"]["weight"] == 0.0
    assert function["default_variant"] == "warm"

    # The campaign still names baseline: deleting it is refused, with the campaign named.
    browser_page.goto(f"{console_gateway.url}/ui/functions/{FUNCTION}")
    browser_page.get_by_role("button", name="Delete baseline").click()
    browser_page.wait_for_load_state()
    alert = browser_page.get_by_role("alert").inner_text()
    assert "Variant baseline is not deleted: campaign greet-test (ended) uses it" in alert
    assert "baseline" in current_function(console_gateway, admin_key)["variants"]
    browser_page.screenshot(path=str(screenshots / "delete-refused.png"), full_page=True)
    watch.assert_clean()

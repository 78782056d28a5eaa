"""The sandbox page in Chromium: what a newcomer clicks through with no accounts.

Each test drives the page as people do (typing `/stripe …`, switching person,
clicking buttons, filling modals, pressing the Stripe panel's buttons); every
request that causes reaches the real bot signed as Slack or Stripe signs it.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from bot.sandbox import Sandbox
from tests.browser.conftest import Screenshots

pytestmark = pytest.mark.slow

WAIT = 20_000  # ms: the bot's workers post within a second or two


async def make_payment(page: Page, currency: str) -> str:
    """The Stripe panel's card payment; returns its PaymentIntent ID."""
    before = await page.locator("#charges [data-charge]").count()
    await page.select_option("#currency", currency)
    await page.get_by_role("button", name="New customer pays").click()
    await expect(page.locator("#charges [data-charge]")).to_have_count(
        before + 1, timeout=WAIT
    )
    return (
        await page.locator("#charges [data-charge] code").first.inner_text()
    ).strip()


async def as_person(page: Page, user: str) -> None:
    await page.select_option("#person", user)


async def open_channel(page: Page, name: str) -> None:
    await page.locator("#channel-list a", has_text=f"# {name}").click()
    await expect(page.locator("#conversation-title")).to_have_text(f"# {name}")


async def type_command(page: Page, text: str) -> None:
    await page.fill("#command", text)
    await page.press("#command", "Enter")


async def test_refund_asked_by_the_agent_approved_by_a_manager(
    page: Page, sandbox: Sandbox, screenshots: Screenshots
) -> None:
    payment = await make_payment(page, "kwd")
    await open_channel(page, "support")
    await type_command(page, f"/stripe refund {payment} 2.500 requested_by_customer")
    # The agent's answer is an ephemeral message only they see.
    answer = page.locator("#messages article.ephemeral", has_text="Refund request #1")
    await expect(answer).to_contain_text("2.500 KWD", timeout=WAIT)
    await expect(answer).to_contain_text("Only visible to you")

    await as_person(page, "U_MANAGER")
    await expect(page.locator("#messages article.ephemeral")).to_have_count(0)
    # The manager's App Home lists it too.
    await page.locator("#app-list a").click()
    home = page.locator("#messages .home")
    await expect(home).to_contain_text("2.500 KWD", timeout=WAIT)
    await expect(home.get_by_role("button", name="Approve")).to_have_count(1)
    await open_channel(page, "approvals")
    request = page.locator("#messages article.msg", has_text="Refund request #1")
    await expect(request).to_contain_text("2.500 KWD of 12.500 KWD", timeout=WAIT)
    await expect(request).to_contain_text("@Alex Agent")
    await screenshots.take(page, "approval")
    # The same message from here on, whatever its edits say.
    ts = await request.get_attribute("data-ts")
    request = page.locator(f'#messages article.msg[data-ts="{ts}"]')

    await request.get_by_role("button", name="Approve").click()
    # Slack's confirm dialog first: nothing is sent until it is confirmed.
    await expect(page.locator("#confirm")).to_contain_text("Refund the customer?")
    await page.locator("#confirm-ok").click()

    refund_id = re.compile(r"re_[A-Za-z0-9]+")
    await expect(request).to_contain_text(refund_id, timeout=WAIT)
    await expect(request).to_contain_text("Approved by @Morgan Manager", timeout=WAIT)
    await expect(request.get_by_role("button", name="Approve")).to_have_count(0)
    # The refund goes through later (pending -> succeeded): its events reply
    # in the request's thread.
    await request.locator(".thread-link").click(timeout=WAIT)
    thread = page.locator("#thread-messages")
    await expect(thread).to_contain_text("is now", timeout=WAIT)
    await expect(thread).to_contain_text(refund_id)
    await screenshots.take(page, "refund-thread")

    # The agent hears of it in their DM with the bot.
    await as_person(page, "U_AGENT")
    await page.locator("#dm-list a").click()
    await expect(page.locator("#messages")).to_contain_text(
        "refund request #1", timeout=WAIT
    )

    refunds = [e for e in sandbox.panel.sent if e["type"].startswith("refund.")]
    assert [e["type"] for e in refunds] == ["refund.created", "refund.updated"]
    assert set(sandbox.panel.answers) == {200}


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_dispute_evidence_with_a_file_is_submitted(
    page: Page, sandbox: Sandbox, screenshots: Screenshots
) -> None:
    await make_payment(page, "usd")
    await page.select_option("#dispute-reason", "product_not_received")
    await (
        page.locator("#charges [data-charge]")
        .first.get_by_role("button", name="Open dispute")
        .click()
    )
    await open_channel(page, "disputes")
    card = page.locator("#messages article.msg", has_text="Dispute: response needed")
    await expect(card).to_contain_text("product not received", timeout=WAIT)
    ts = await card.get_attribute("data-ts")
    card = page.locator(f'#messages article.msg[data-ts="{ts}"]')
    await screenshots.take(page, "channels")

    await card.get_by_role("button", name="Edit evidence").click()
    modal = page.locator("#modal")
    await expect(modal).to_contain_text("Dispute evidence", timeout=WAIT)
    description = modal.locator(".b-input", has_text="description").locator(
        "textarea, input"
    )
    await description.first.fill("A blue wool jumper, size M, shipped in two days.")
    proof = modal.locator(".b-input", has=page.locator("input[type=file]")).first
    # A text file named as a PDF is refused, next to its field, values kept.
    await proof.locator("input[type=file]").set_input_files(
        {"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf"}
    )
    await expect(proof.locator(".uploaded")).to_contain_text("receipt.pdf")
    await modal.get_by_role("button", name="Save evidence").click()
    await expect(proof.locator(".field-error")).to_contain_text(
        "not really a PDF", timeout=WAIT
    )
    await expect(description.first).to_have_value(re.compile("blue wool jumper"))

    await proof.locator("input[type=file]").set_input_files(
        {"name": "delivery.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await expect(proof.locator(".uploaded")).to_contain_text("delivery.pdf")
    await proof.scroll_into_view_if_needed()
    await screenshots.take(page, "dispute-modal")
    await modal.get_by_role("button", name="Save evidence").click()
    await expect(modal).to_contain_text("Saved on Stripe", timeout=WAIT)
    await modal.locator(".modal-cancel").click()
    await expect(page.locator("#modal-backdrop")).to_be_hidden()

    # The file went from the fake Slack's files to Stripe, as in production.
    uploads = sandbox.stripe.requests_to("POST", "/v1/files")
    assert len(uploads) == 1
    assert PDF in uploads[0].files.values()

    await card.get_by_role("button", name="Submit evidence").click()
    await expect(modal).to_contain_text("one submission", timeout=WAIT)
    await modal.get_by_role("button", name="Submit to Stripe").click()
    await expect(card).to_contain_text(re.compile("[Ss]ubmitted"), timeout=WAIT)
    await expect(card.get_by_role("button", name="Submit evidence")).to_have_count(0)


async def test_a_storm_of_500_events_ends_as_digests_naming_every_one(
    page: Page, sandbox: Sandbox, screenshots: Screenshots
) -> None:
    await page.get_by_role("button", name=re.compile("Storm")).click()
    await expect(page.locator("#stripe-status")).to_contain_text(
        "500 webhooks delivered", timeout=120_000
    )
    storm = [e["data"]["object"]["id"] for e in sandbox.panel.sent]
    assert len(set(storm)) == 500
    assert set(sandbox.panel.answers) == {200}

    await open_channel(page, "payments")
    messages = page.locator("#messages")
    named: set[str] = set()
    for _ in range(120):
        # Each event's charge, as the page shows it (a digest names each one).
        named = set(re.findall(r"ch_[A-Za-z0-9]+", await messages.inner_text()))
        if named >= set(storm):
            break
        await page.wait_for_timeout(1000)
    missing = set(storm) - named
    assert not missing, f"{len(missing)} of 500 charges named nowhere"
    events = {e["id"] for e in sandbox.panel.sent}
    shown = set(re.findall(r"evt_[A-Za-z0-9]+", await messages.inner_text()))
    assert events <= shown, f"{len(events - shown)} of 500 events named nowhere"
    posts = await messages.locator("article.msg").count()
    assert posts < 100, f"{posts} messages for 500 events: no digests"
    await expect(messages).to_contain_text("Stripe events")
    await screenshots.take(page, "storm")


async def test_mrkdwn_renders_as_slack_shows_it_and_escapes_stay_text(
    page: Page,
) -> None:
    async def render(text: str) -> dict[str, str]:
        result: dict[str, str] = await page.evaluate(
            """(text) => {
                const box = document.createElement("div");
                box.innerHTML = Blocks.mrkdwn(text);
                const link = box.querySelector("a");
                return {
                    text: box.innerText,
                    mentions: String(box.querySelectorAll(".mention").length),
                    tags: [...box.querySelectorAll("*")].map((e) => e.tagName).join(),
                    href: link ? link.getAttribute("href") : "",
                };
            }""",
            text,
        )
        return result

    # What the bot escaped (a customer named <!channel>) pings nobody.
    named = await render("Customer &lt;!channel&gt; &amp; co")
    assert named["text"] == "Customer <!channel> & co"
    assert named["mentions"] == "0"
    # Markup that was never escaped still cannot become HTML.
    raw = await render("<img src=x onerror=alert(1)>")
    assert "IMG" not in raw["tags"]

    link = await render(
        "<https://dashboard.stripe.com/test/payments/pi_1|pi_1 &amp; b>"
    )
    assert link["text"] == "pi_1 & b"
    assert link["href"] == "https://dashboard.stripe.com/test/payments/pi_1"

    people = await render("<@U_MANAGER> in <#CAPPROVALS> <!here>")
    assert people["text"] == "@Morgan Manager in #approvals @here"
    assert people["mentions"] == "3"

    # 2023-11-15 12:00 UTC: the same day in every time zone a browser has.
    date = await render("due <!date^1700049600^{date_num}|15 Nov 2023>")
    assert date["text"] == "due 2023-11-15"

    styled = await render("*bold* _it_ ~gone~ `code` :white_check_mark:")
    assert styled["tags"] == "B,I,S,CODE"
    assert styled["text"] == "bold it gone code ✅"

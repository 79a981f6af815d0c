"""Real chromium as a 390 px phone with a 3x screen (an iPhone's): an article's large lead image
costs at most 80 KB, because the page offers AVIF/WebP at several widths and says how wide the
image is shown; and its width and height are known before it loads (nothing shifts)."""

from __future__ import annotations

import pytest

from pressroom.media import services
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import jpeg_with_gps
from pressroom.publishing import services as publishing_services
from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test

pytestmark = [*browser_test, pytest.mark.slow]

BUDGET_BYTES = 80 * 1024


@pytest.fixture
def article_with_large_lead_image(transactional_db, make_article) -> str:
    item, _ = services.add_item_from_bytes(jpeg_with_gps(3600, 2400, seed=7), "march.jpg")
    item.alt_text = "Thousands march down Avenida Abancay"
    item.save()
    article = make_article(title="Miners march on Lima")
    article.lead_image = item
    publishing_services.save_article(article)
    run_worker()
    assert item.size > 4 * BUDGET_BYTES, item.size  # the original alone is far over budget
    return article.get_absolute_url()


def test_lead_image_costs_at_most_80_kb_on_a_phone(live_server, article_with_large_lead_image):
    from playwright.sync_api import sync_playwright

    image_bytes: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=3,
                is_mobile=True,
                has_touch=True,
            )
            page = context.new_page()

            def count(response) -> None:
                if response.request.resource_type == "image":
                    image_bytes[response.url] = len(response.body())

            page.on("response", count)
            page.goto(live_server.url + article_with_large_lead_image, wait_until="load")
            lead = page.locator("img.lead-image")
            box = lead.bounding_box()
            chosen = lead.evaluate("img => img.currentSrc")
            attributes = lead.evaluate(
                "img => [img.getAttribute('width'), img.getAttribute('height'), img.loading]"
            )
            complete = lead.evaluate("img => img.complete && img.naturalWidth > 0")
        finally:
            browser.close()
    assert complete, "the lead image did not load"
    assert attributes[0]
    assert attributes[1]
    assert attributes[2] != "lazy"
    # The box is reserved before the image arrives: its shape is the image's.
    assert box
    assert abs(box["width"] / box["height"] - 3600 / 2400) < 0.01
    assert chosen in image_bytes
    assert chosen.endswith((".avif", ".webp")), chosen
    total = sum(image_bytes.values())
    assert 0 < total <= BUDGET_BYTES, f"{total} bytes: {image_bytes}"
    print(f"lead image on a 390 px, 3x phone: {total} bytes ({chosen.rsplit('/', 1)[-1]})")
